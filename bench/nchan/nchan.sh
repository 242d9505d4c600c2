#!/bin/sh
# bench/nchan/nchan.sh - start and stop nginx + nchan for hr-bench.
#
#   nchan.sh start PORT [DIR]  write DIR/nginx.conf from nginx.conf (DIR: a
#                              new temp dir), check it, start nginx in the
#                              background, wait until it answers, and print
#                              "DIR MASTER_PID WORKER_PID..." (WORKERS=n in
#                              the environment: worker processes, default 1).
#   nchan.sh stop DIR          stop the nginx started in DIR (by its pid
#                              file), waiting up to 5 s.
#   nchan.sh check             only check that the nchan module loads.
#
# Needs: apt-get install -y nginx-light libnginx-mod-nchan curl
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template="$here/nginx.conf"

die() { echo "nchan.sh: $*" >&2; exit 1; }

write_conf() {   # PORT DIR
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=1048576
    # One worker holds at most its open-file limit of connections.
    nofile=$(( hard < 1048576 ? hard : 1048576 ))
    conns=$(( nofile > 21000 ? 21000 : nofile - 100 ))
    sed -e "s|@PORT@|$1|g" -e "s|@DIR@|$2|g" -e "s|@WORKERS@|${WORKERS:-1}|g" \
        -e "s|@CONNS@|$conns|g" -e "s|@NOFILE@|$nofile|g" "$template" > "$2/nginx.conf"
}

case "${1:-}" in
check)
    dir=$(mktemp -d /tmp/hr-nchan.XXXXXX)
    write_conf 1 "$dir"
    if out=$(nginx -t -p "$dir" -c "$dir/nginx.conf" 2>&1); then
        echo "nchan module loads; config ok ($(ulimit -Hn) open files per process)"
    else
        echo "$out" >&2
        rm -rf "$dir"
        die "config check failed"
    fi
    rm -rf "$dir"
    ;;
start)
    port=${2:?usage: nchan.sh start PORT [DIR]}
    command -v nginx >/dev/null || die "nginx not installed (apt-get install -y nginx-light libnginx-mod-nchan)"
    [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || die "libnginx-mod-nchan not installed"
    dir=${3:-$(mktemp -d /tmp/hr-nchan.XXXXXX)}
    mkdir -p "$dir"
    # Workers run as nobody: they must reach the temp dirs.
    chmod 755 "$dir"
    write_conf "$port" "$dir"
    out=$(nginx -t -p "$dir" -c "$dir/nginx.conf" 2>&1) || { echo "$out" >&2; die "config check failed"; }
    nohup nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/nginx.out" 2>&1 &
    master=$!
    tries=0
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ $tries -ge 50 ] || ! kill -0 "$master" 2>/dev/null; then
            cat "$dir/error.log" "$dir/nginx.out" >&2 2>/dev/null || true
            kill "$master" 2>/dev/null || true
            die "nginx did not start on port $port"
        fi
        sleep 0.1
    done
    # Workers may still be forking right after the first answer.
    workers=""
    tries=0
    while [ "$(echo $workers | wc -w)" -lt "${WORKERS:-1}" ] && [ $tries -lt 20 ]; do
        workers=$(ps -o pid= --ppid "$master" | tr -s ' \n' ' ')
        tries=$((tries + 1))
        sleep 0.05
    done
    echo "$dir $master" $workers
    ;;
stop)
    dir=${2:?usage: nchan.sh stop DIR}
    [ -f "$dir/nginx.pid" ] || die "no $dir/nginx.pid"
    master=$(cat "$dir/nginx.pid")
    kill -TERM "$master" 2>/dev/null || true
    tries=0
    while kill -0 "$master" 2>/dev/null && [ $tries -lt 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    kill -0 "$master" 2>/dev/null && die "nginx $master still running"
    echo "stopped nginx $master"
    ;;
*)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
