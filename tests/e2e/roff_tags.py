#!/usr/bin/env python3
"""roff_tags.py — reads a man(7) page's source, no groff needed (CI has none).

    roff_tags.py tags FILE SECTION   one line per .TP entry of the .SH SECTION:
                                     its tag as plain text, a tab, and the first
                                     words of its paragraph
    roff_tags.py text FILE           the whole page as plain text, one source
                                     line per line (macros' arguments kept)

Only what our pages use is rendered: the font macros (.B .I .BI .BR .IB .IR
.RB .RI), quoted arguments, and the escapes \\- \\& \\e \\f? \\(xx and "\\ ".
It exists for tests/e2e/manpages.bats, which checks the pages against
--help and hregionfs.ini.
"""
import re
import sys

JOIN_SPACE = {"B", "I", "SM", "SB"}
ALTERNATING = {"BI", "BR", "IB", "IR", "RB", "RI"}
NAMED = {"em": "\u2014", "en": "\u2013", "aq": "'", "dq": '"', "ti": "~", "lq": '"',
         "rq": '"', "bu": "*", "co": "(c)", "ha": "^"}


def args_of(rest):
    """Splits macro arguments as troff does: blanks separate, "..." groups."""
    out, cur, i, quoted, have = [], "", 0, False, False
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and i + 1 < len(rest):
            cur += rest[i:i + 2]
            i += 2
            have = True
            continue
        if ch == '"':
            if quoted and i + 1 < len(rest) and rest[i + 1] == '"':
                cur += '"'
                i += 2
                continue
            quoted = not quoted
            have = True
        elif ch in " \t" and not quoted:
            if have:
                out.append(cur)
            cur, have = "", False
        else:
            cur += ch
            have = True
        i += 1
    if have:
        out.append(cur)
    return out


def escapes(s):
    s = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", s)
    s = re.sub(r"\\\((..)", lambda m: NAMED.get(m.group(1), ""), s)
    s = s.replace("\\-", "-").replace("\\&", "").replace("\\|", "").replace("\\^", "")
    s = s.replace("\\ ", " ").replace("\\e", "\\")
    return s


def render(line):
    """A source line as plain text ("" for a macro that prints nothing)."""
    if not line.startswith((".", "'")):
        return escapes(line)
    m = re.match(r"[.'](\S+)\s*(.*)", line)
    if not m:
        return ""
    name, rest = m.group(1), m.group(2)
    if name in JOIN_SPACE:
        return escapes(" ".join(args_of(rest)))
    if name in ALTERNATING:
        return escapes("".join(args_of(rest)))
    if name in ("SH", "SS"):
        return escapes(" ".join(args_of(rest)))
    return ""


def lines_of(path):
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith(('.\\"', "'\\\"")) or line == ".":
                continue
            yield line


def tags(path, section):
    sec, pending, cur = None, False, None
    out = []

    def close():
        if cur is not None:
            out.append((cur[0], " ".join(cur[1]).strip()))

    for line in lines_of(path):
        m = re.match(r"\.SH\s+(.*)", line)
        if m:
            close()
            cur, pending = None, False
            sec = render(line)
            continue
        if sec != section:
            continue
        if line.startswith(".TP"):
            close()
            cur, pending = None, True
            continue
        if pending:
            cur, pending = (render(line).strip(), []), False
            continue
        if re.match(r"\.(SS|PP|P|LP|IP|RS|RE|nf|fi)\b", line):
            close()
            cur = None
            continue
        if cur is not None and len(" ".join(cur[1])) < 60:
            text = render(line).strip()
            if text:
                cur[1].append(text)
    close()
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "tags":
        for tag, body in tags(sys.argv[2], sys.argv[3]):
            print(f"{tag}\t{body}")
    elif len(sys.argv) == 3 and sys.argv[1] == "text":
        for line in lines_of(sys.argv[2]):
            print(render(line))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
