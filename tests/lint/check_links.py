#!/usr/bin/python3
"""check_links: the repository's documents link only to what the repository has.

Fails when a tracked Markdown file has a relative link (inline `[t](x)`,
`![t](x)`, a reference definition `[r]: x`, or an HTML `href`/`src`) to a
file or folder that is not tracked, or to an anchor (`#a`, `x.md#a`) that no
heading of the target produces under GitHub's rules; and when any tracked
file names the design document that lives outside the repository (a link
there is broken in every clone: docs/architecture.md holds that content).
Links with a scheme (https:, mailto:) and links inside code are not checked.
Usage: check_links.py SOURCE_DIR"""
import os
import re
import subprocess
import sys
import unicodedata
from urllib.parse import unquote

# Written so that this file does not match itself.
OUTSIDE_DOC = re.compile(r"[D]ESIGN\.md")

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+[\"'(][^)]*)?\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_REF = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""")
HTML_ID = re.compile(r"""<a\s[^>]*\b(?:name|id)\s*=\s*["']([^"']+)["']""")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def tracked_files(root):
    """Tracked paths (the index, so a file added in the same commit counts);
    without git (an unpacked tarball), every file under root."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True).stdout
        return sorted(p for p in out.decode("utf-8").split("\0") if p)
    except (OSError, subprocess.CalledProcessError):
        found = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".git", "node_modules")
                       and not d.startswith("build")]
            for name in files:
                found.append(os.path.relpath(os.path.join(folder, name), root))
        return sorted(p.replace(os.sep, "/") for p in found)


def prose_lines(text, spans=False):
    """(line number, line) outside fenced and indented code blocks, code
    spans blanked unless spans (a heading renders their text)."""
    fence, previous = None, ""
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        indented = line.startswith("    ") and not previous.strip()
        previous = line
        if indented:
            continue                    # an indented code block starts after a blank line
        yield number, line if spans else CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


def heading_text(raw):
    """The text GitHub renders for a heading's source."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)     # links: their text
    text = re.sub(r"<[^>]+>", "", text)                         # inline HTML
    text = re.sub(r"(\*{1,3})(\S.*?\S|\S)\1", r"\2", text)        # emphasis
    text = re.sub(r"(?<!\w)(_{1,3})(\S.*?\S|\S)\1(?!\w)", r"\2", text)  # not hrg_a_b
    return text.strip()


def slug(text):
    """GitHub's anchor for a heading text (github-slugger): lowercase; keep
    letters, digits, marks, '_' and '-'; each space becomes '-'."""
    kept = []
    for ch in text.lower():
        category = unicodedata.category(ch)
        if ch in " -" or category[0] in "LNM" or category == "Pc":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(text):
    """Every anchor a Markdown document's headings (and <a name/id>) produce;
    a repeated slug gets -1, -2, ... as on GitHub."""
    found, seen = set(), {}
    previous = None
    for _, line in prose_lines(text, spans=True):
        for name in HTML_ID.findall(line):
            found.add(name)
        atx = ATX.match(line)
        setext = SETEXT.match(line) if previous and previous.strip() else None
        title = None
        if atx:
            title = atx.group(2)
        elif setext and not ATX.match(previous) and not previous.lstrip().startswith(("-", "*", ">")):
            title = previous
        previous = line
        if title is None:
            continue
        base = slug(heading_text(title))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else "%s-%d" % (base, count))
    return found


def links(text):
    """(line number, target) of every link in the document's prose."""
    for number, line in prose_lines(text):
        for match in INLINE.finditer(line):
            yield number, match.group(1)
        match = REFDEF.match(line)
        if match:
            yield number, match.group(1)
        for target in HTML_REF.findall(line):
            yield number, target


def check(root):
    files = tracked_files(root)
    tracked = set(files)
    folders = {os.path.dirname(p) for p in files}
    for path in list(folders):
        while path:
            path = os.path.dirname(path)
            folders.add(path)
    cache = {}

    def read(path):
        if path not in cache:
            try:
                with open(os.path.join(root, path), encoding="utf-8") as f:
                    cache[path] = f.read()
            except (OSError, UnicodeDecodeError):
                cache[path] = None
        return cache[path]

    problems = []
    for path in files:
        text = read(path)
        if text is None:
            continue
        for number, line in enumerate(text.split("\n"), 1):
            if OUTSIDE_DOC.search(line):
                problems.append("%s:%d: names the design document outside the repository "
                                "(point to docs/architecture.md or the doc that holds it)"
                                % (path, number))
        if not path.endswith(".md"):
            continue
        for number, raw in links(text):
            target = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
            if not target or SCHEME.match(target) or target.startswith("//"):
                continue
            file_part, _, anchor = target.partition("#")
            file_part = unquote(file_part.split("?", 1)[0])
            if file_part.startswith("/"):
                resolved = os.path.normpath(file_part.lstrip("/"))
            elif file_part:
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            else:
                resolved = path
            resolved = resolved.replace(os.sep, "/")
            where = "%s:%d: link %s" % (path, number, raw)
            if resolved.startswith("../") or resolved == "..":
                problems.append(where + ": points outside the repository")
                continue
            if resolved not in tracked and resolved.rstrip("/") not in folders:
                problems.append(where + ": %s is not a tracked file or folder" % resolved)
                continue
            if anchor and resolved.endswith(".md"):
                target_text = read(resolved)
                if target_text is not None and unquote(anchor) not in anchors(target_text):
                    problems.append(where + ": no heading of %s makes #%s" % (resolved, anchor))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = check(root)
    for problem in problems:
        print(problem)
    if problems:
        print("check_links: %d problem(s)" % len(problems))
        return 1
    print("check_links: links and anchors of tracked Markdown files resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
