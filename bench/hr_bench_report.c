/*  hr_bench_report.c - what a run measured, as text or one JSON object

    Latencies are printed in milliseconds with three decimals, memory in
    kB as /proc gives it. Figures that were not measured (no --server-pid,
    no deliveries) are null in JSON and left out of the text.
*/
#include <inttypes.h>
#include <string.h>

#include "hr_bench_report.h"

static const char *s_mode_names [] = { "fanout", "idle", "ingest", "zmq-ceiling", "connect" };

static bool
s_has_ramp (const hr_bench_opts_t *opts)
{
    return opts->mode == HR_BENCH_MODE_FANOUT || opts->mode == HR_BENCH_MODE_IDLE
        || opts->mode == HR_BENCH_MODE_CONNECT;
}

static const char *
s_after_ramp (const hr_bench_opts_t *opts)
{
    return opts->mode == HR_BENCH_MODE_IDLE? "idle"
         : opts->mode == HR_BENCH_MODE_CONNECT? "collecting": "publishing+draining";
}

static double
s_ms (uint64_t ns)
{
    return (double) ns / 1e6;
}

static double
s_rate (double count, double seconds)
{
    return seconds > 0? count / seconds: 0;
}

//  Rate of events sent at both ends of a span: n events are n - 1 intervals.
static double
s_span_rate (uint64_t count, double seconds)
{
    return count > 1? s_rate ((double) (count - 1), seconds): 0;
}

//  --------------------------------------------------------------------------
//  Text

static void
s_text_server (const hr_bench_run_t *run, FILE *out)
{
    if (run->opts->server_pid_count == 0)
        return;
    if (!run->before.ok || !run->after.ok) {
        fprintf (out, "server        could not read /proc for every --server-pid\n");
        return;
    }
    if (s_has_ramp (run->opts))
        fprintf (out, "server        cpu %.2f s connecting, %.2f s %s;"
                 " rss %" PRIu64 " kB -> %" PRIu64 " kB connected -> %" PRIu64 " kB at end\n",
                 run->connected.cpu_s - run->before.cpu_s, run->after.cpu_s - run->connected.cpu_s,
                 s_after_ramp (run->opts),
                 run->before.rss_kb, run->connected.rss_kb, run->after.rss_kb);
    else
        fprintf (out, "server        cpu %.2f s; rss %" PRIu64 " kB -> %" PRIu64 " kB\n",
                 run->after.cpu_s - run->before.cpu_s, run->before.rss_kb, run->after.rss_kb);
}

static void
s_text_connections (const hr_bench_run_t *run, FILE *out)
{
    const hr_bench_counts_t *c = &run->result->counts;
    fprintf (out, "connections   %" PRIu64 " ready of %u, %" PRIu64 " failed"
             " (bind %" PRIu64 ", connect %" PRIu64 ", status %" PRIu64 ", closed %" PRIu64
             ", timeout %" PRIu64 "), %" PRIu64 " late, %" PRIu64 " dropped; ramp %.2f s\n",
             c->ready, run->opts->subscribers, c->failed, c->fail_bind, c->fail_connect,
             c->fail_status, c->fail_closed, c->fail_timeout, c->late, c->dropped, run->ramp_s);
    if (run->procs_reported < run->opts->procs)
        fprintf (out, "              only %u of %u subscriber processes reported\n",
                 run->procs_reported, run->opts->procs);
}

//  Server CPU per connection over the ramp, in microseconds; < 0 when
//  the server was not sampled.
static double
s_cpu_us_per_conn (const hr_bench_run_t *run)
{
    uint64_t ready = run->result->counts.ready;
    if (run->opts->server_pid_count == 0 || !run->before.ok || !run->connected.ok || ready == 0)
        return -1;
    return (run->connected.cpu_s - run->before.cpu_s) * 1e6 / (double) ready;
}

static void
s_text_connect (const hr_bench_run_t *run, FILE *out)
{
    const hr_bench_hist_t *h = &run->result->hist;
    fprintf (out, "connect       %.0f connections/s (ready / ramp), %u token(s) %s\n",
             s_rate ((double) run->result->counts.ready, run->ramp_s), run->opts->token_count,
             run->opts->token_in == HR_BENCH_TOKEN_QUERY? "in the query": "in the header");
    if (h->total > 0)
        fprintf (out, "setup ms      p50 %.3f  p99 %.3f  max %.3f  mean %.3f\n",
                 s_ms (hr_bench_hist_percentile (h, 0.50)), s_ms (hr_bench_hist_percentile (h, 0.99)),
                 s_ms (h->max_ns), s_ms (h->sum_ns / h->total));
    double cpu_us = s_cpu_us_per_conn (run);
    if (cpu_us >= 0)
        fprintf (out, "server cpu    %.1f us per connection\n", cpu_us);
}

static void
s_text (const hr_bench_run_t *run, FILE *out)
{
    const hr_bench_opts_t *opts = run->opts;
    fprintf (out, "hr-bench %s: ", s_mode_names [opts->mode]);
    if (opts->mode == HR_BENCH_MODE_ZMQ_CEILING || opts->mode == HR_BENCH_MODE_INGEST) {
        const hr_bench_zmq_result_t *z = &run->zmq;
        if (opts->mode == HR_BENCH_MODE_INGEST)
            fprintf (out, "PUSH to %s, %zu-byte frames (%u-byte payload)\n",
                     opts->zmq_endpoint, z->frame_bytes, opts->size);
        else
            fprintf (out, "libzmq PUSH->PULL over tcp loopback, %zu-byte messages\n",
                     z->frame_bytes);
        fprintf (out, "sent          %" PRIu64 " in %.2f s: %.0f msg/s (%" PRIu64 " send timeouts)\n",
                 z->sent, z->send_s, s_rate ((double) z->sent, z->send_s), z->send_timeouts);
        if (opts->mode == HR_BENCH_MODE_INGEST)
            fprintf (out, "flushed       all in %.2f s: %.0f events/s\n",
                     z->flush_s, s_rate ((double) z->sent, z->flush_s));
        else
            fprintf (out, "received      %" PRIu64 " in %.2f s: %.0f msg/s at the sink\n",
                     z->received, z->recv_s, s_rate ((double) z->received, z->recv_s));
        s_text_server (run, out);
        return;
    }
    const hr_bench_counts_t *c = &run->result->counts;
    fprintf (out, "%s, %s, %u subscribers on %u channel(s), %u process(es), %u source address(es)\n",
             opts->target == HR_BENCH_TARGET_HERALD? "herald": "nchan",
             opts->proto == HR_BENCH_PROTO_WS? "ws": "sse",
             opts->subscribers, opts->channels, opts->procs, opts->src_addrs);
    s_text_connections (run, out);
    if (opts->mode == HR_BENCH_MODE_CONNECT) {
        s_text_connect (run, out);
        s_text_server (run, out);
        return;
    }
    if (opts->mode == HR_BENCH_MODE_IDLE) {
        if (run->before.ok && run->connected.ok && c->ready > 0)
            fprintf (out, "idle memory   rss %" PRIu64 " kB -> %" PRIu64 " kB: %.0f bytes per connection\n",
                     run->before.rss_kb, run->connected.rss_kb,
                     ((double) run->connected.rss_kb - (double) run->before.rss_kb) * 1024.0
                     / (double) c->ready);
        else
            fprintf (out, "idle memory   needs --server-pid and ready connections\n");
        s_text_server (run, out);
        return;
    }
    fprintf (out, "published     %" PRIu64 " of %" PRIu64 " events via %s in %.2f s (%.1f/s,"
             " target %s), %u-byte payload\n",
             run->published, opts->events, opts->pub == HR_BENCH_PUB_ZMQ? "zmq": "http",
             run->publish_s, s_span_rate (run->published, run->publish_s),
             opts->rate > 0? "fixed rate": "closed loop", opts->size);
    if (opts->pub == HR_BENCH_PUB_HTTP)
        fprintf (out, "              http: %" PRIu64 " accepted, %" PRIu64 " rejected"
                 " (last status %d), %" PRIu64 " errors\n",
                 run->pub.accepted, run->pub.rejected,
                 run->pub.rejected? run->pub.last_status: 0, run->pub.errors);
    else
        fprintf (out, "              zmq: %" PRIu64 " send errors\n", run->pub.errors);
    fprintf (out, "deliveries    %" PRIu64 " unique of %" PRIu64 " expected: lost %" PRIu64
             ", duplicates %" PRIu64 "%s, out of order %" PRIu64 ", foreign %" PRIu64
             ", unmarked %" PRIu64 "\n",
             c->unique, c->expected, c->lost, c->duplicates, c->exact_dups? "": " (approx.)",
             c->out_of_order, c->foreign, c->no_marker);
    fprintf (out, "              %.0f deliveries/s over %.2f s (first publish to last delivery)\n",
             s_rate ((double) c->unique, run->delivery_s), run->delivery_s);
    const hr_bench_hist_t *h = &run->result->hist;
    if (h->total > 0)
        fprintf (out, "latency ms    p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
                 s_ms (hr_bench_hist_percentile (h, 0.50)), s_ms (hr_bench_hist_percentile (h, 0.99)),
                 s_ms (hr_bench_hist_percentile (h, 0.999)), s_ms (h->max_ns),
                 s_ms (h->sum_ns / h->total));
    const hr_bench_fanout_t *f = &run->fanout;
    fprintf (out, "fan-out ms    p50 %.3f  p99 %.3f  max %.3f  (%" PRIu64 " events reached every"
             " subscriber, %" PRIu64 " did not)\n",
             s_ms (f->p50_ns), s_ms (f->p99_ns), s_ms (f->max_ns), f->complete, f->incomplete);
    s_text_server (run, out);
}

//  --------------------------------------------------------------------------
//  JSON

static void
s_json_server (const hr_bench_run_t *run, FILE *out)
{
    fprintf (out, ",\"server\":");
    if (run->opts->server_pid_count == 0 || !run->before.ok || !run->after.ok) {
        fprintf (out, "null");
        return;
    }
    fprintf (out, "{\"pids\":[");
    for (int at = 0; at < run->opts->server_pid_count; at++)
        fprintf (out, "%s%d", at? ",": "", run->opts->server_pids [at]);
    fprintf (out, "],\"rss_kb_before\":%" PRIu64 ",\"rss_kb_after\":%" PRIu64
             ",\"cpu_s\":%.3f", run->before.rss_kb, run->after.rss_kb,
             run->after.cpu_s - run->before.cpu_s);
    if (s_has_ramp (run->opts))
        fprintf (out, ",\"rss_kb_connected\":%" PRIu64 ",\"cpu_s_connecting\":%.3f"
                 ",\"%s\":%.3f", run->connected.rss_kb, run->connected.cpu_s - run->before.cpu_s,
                 run->opts->mode == HR_BENCH_MODE_IDLE? "cpu_s_idle"
                 : run->opts->mode == HR_BENCH_MODE_CONNECT? "cpu_s_collecting": "cpu_s_publishing",
                 run->after.cpu_s - run->connected.cpu_s);
    fprintf (out, "}");
}

static void
s_json_connections (const hr_bench_run_t *run, FILE *out)
{
    const hr_bench_counts_t *c = &run->result->counts;
    fprintf (out, ",\"connections\":{\"requested\":%u,\"attempted\":%" PRIu64 ",\"connected\":%" PRIu64
             ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"fail_bind\":%" PRIu64
             ",\"fail_connect\":%" PRIu64 ",\"fail_status\":%" PRIu64 ",\"fail_closed\":%" PRIu64
             ",\"fail_timeout\":%" PRIu64 ",\"late\":%" PRIu64 ",\"dropped\":%" PRIu64
             ",\"ramp_s\":%.3f,\"procs_reported\":%u}",
             run->opts->subscribers, c->attempted, c->connected, c->ready, c->failed, c->fail_bind,
             c->fail_connect, c->fail_status, c->fail_closed, c->fail_timeout, c->late,
             c->dropped, run->ramp_s, run->procs_reported);
}

static void
s_json (const hr_bench_run_t *run, FILE *out)
{
    const hr_bench_opts_t *opts = run->opts;
    fprintf (out, "{\"mode\":\"%s\",\"target\":\"%s\",\"size\":%u",
             s_mode_names [opts->mode],
             opts->target == HR_BENCH_TARGET_HERALD? "herald": "nchan", opts->size);
    if (opts->mode == HR_BENCH_MODE_ZMQ_CEILING || opts->mode == HR_BENCH_MODE_INGEST) {
        const hr_bench_zmq_result_t *z = &run->zmq;
        fprintf (out, ",\"frame_bytes\":%zu,\"sent\":%" PRIu64 ",\"send_s\":%.3f"
                 ",\"send_per_s\":%.0f,\"send_timeouts\":%" PRIu64,
                 z->frame_bytes, z->sent, z->send_s, s_rate ((double) z->sent, z->send_s),
                 z->send_timeouts);
        if (opts->mode == HR_BENCH_MODE_INGEST)
            fprintf (out, ",\"endpoint\":\"%s\",\"flush_s\":%.3f,\"events_per_s\":%.0f",
                     opts->zmq_endpoint, z->flush_s, s_rate ((double) z->sent, z->flush_s));
        else
            fprintf (out, ",\"received\":%" PRIu64 ",\"recv_s\":%.3f,\"msgs_per_s\":%.0f",
                     z->received, z->recv_s, s_rate ((double) z->received, z->recv_s));
        s_json_server (run, out);
        fprintf (out, "}\n");
        return;
    }
    const hr_bench_counts_t *c = &run->result->counts;
    fprintf (out, ",\"proto\":\"%s\",\"url\":\"%s\",\"subscribers\":%u,\"channels\":%u"
             ",\"procs\":%u,\"src_addrs\":%u", opts->proto == HR_BENCH_PROTO_WS? "ws": "sse",
             opts->url, opts->subscribers, opts->channels, opts->procs, opts->src_addrs);
    s_json_connections (run, out);
    if (opts->mode == HR_BENCH_MODE_CONNECT) {
        const hr_bench_hist_t *h = &run->result->hist;
        fprintf (out, ",\"tokens\":%u,\"token_in\":\"%s\",\"connect\":{\"per_s\":%.1f",
                 opts->token_count, opts->token_in == HR_BENCH_TOKEN_QUERY? "query": "header",
                 s_rate ((double) c->ready, run->ramp_s));
        if (h->total > 0)
            fprintf (out, ",\"setup_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f}",
                     s_ms (hr_bench_hist_percentile (h, 0.50)),
                     s_ms (hr_bench_hist_percentile (h, 0.99)), s_ms (h->max_ns),
                     s_ms (h->sum_ns / h->total));
        double cpu_us = s_cpu_us_per_conn (run);
        if (cpu_us >= 0)
            fprintf (out, ",\"server_cpu_us_per_conn\":%.2f}", cpu_us);
        else
            fprintf (out, ",\"server_cpu_us_per_conn\":null}");
        s_json_server (run, out);
        fprintf (out, "}\n");
        return;
    }
    if (opts->mode == HR_BENCH_MODE_IDLE) {
        bool ok = run->before.ok && run->connected.ok && c->ready > 0
               && opts->server_pid_count > 0;
        fprintf (out, ",\"rss_kb_before\":%" PRIu64 ",\"rss_kb_after\":%" PRIu64,
                 run->before.rss_kb, run->connected.rss_kb);
        if (ok)
            fprintf (out, ",\"rss_bytes_per_conn\":%.0f",
                     ((double) run->connected.rss_kb - (double) run->before.rss_kb) * 1024.0
                     / (double) c->ready);
        else
            fprintf (out, ",\"rss_bytes_per_conn\":null");
        s_json_server (run, out);
        fprintf (out, "}\n");
        return;
    }
    fprintf (out, ",\"events\":{\"requested\":%" PRIu64 ",\"published\":%" PRIu64
             ",\"publisher\":\"%s\",\"rate_target\":%.1f,\"publish_s\":%.3f,\"rate\":%.1f"
             ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
             opts->events, run->published, opts->pub == HR_BENCH_PUB_ZMQ? "zmq": "http",
             opts->rate, run->publish_s, s_span_rate (run->published, run->publish_s),
             run->pub.accepted, run->pub.rejected, run->pub.errors);
    fprintf (out, ",\"deliveries\":{\"total\":%" PRIu64 ",\"unique\":%" PRIu64 ",\"expected\":%" PRIu64
             ",\"lost\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"duplicates_exact\":%s"
             ",\"out_of_order\":%" PRIu64 ",\"foreign\":%" PRIu64 ",\"unmarked\":%" PRIu64
             ",\"window_s\":%.3f,\"per_s\":%.0f}",
             c->deliveries, c->unique, c->expected, c->lost, c->duplicates,
             c->exact_dups? "true": "false", c->out_of_order, c->foreign, c->no_marker,
             run->delivery_s, s_rate ((double) c->unique, run->delivery_s));
    const hr_bench_hist_t *h = &run->result->hist;
    if (h->total > 0)
        fprintf (out, ",\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f"
                 ",\"mean\":%.3f}",
                 s_ms (hr_bench_hist_percentile (h, 0.50)), s_ms (hr_bench_hist_percentile (h, 0.99)),
                 s_ms (hr_bench_hist_percentile (h, 0.999)), s_ms (h->max_ns),
                 s_ms (h->sum_ns / h->total));
    else
        fprintf (out, ",\"latency_ms\":null");
    const hr_bench_fanout_t *f = &run->fanout;
    fprintf (out, ",\"fanout_ms\":{\"complete\":%" PRIu64 ",\"incomplete\":%" PRIu64
             ",\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
             f->complete, f->incomplete, s_ms (f->p50_ns), s_ms (f->p99_ns), s_ms (f->max_ns));
    s_json_server (run, out);
    fprintf (out, "}\n");
}

void
hr_bench_report_print (const hr_bench_run_t *run, FILE *out)
{
    if (run->opts->json)
        s_json (run, out);
    else
        s_text (run, out);
    fflush (out);
}
