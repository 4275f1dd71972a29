#!/usr/bin/env python3
"""promcheck.py — checks a Prometheus text exposition (format 0.0.4).

usage: promcheck.py FILE|- [SERIES...]

Exits 1 with one line per problem if the text is not well formed:
- every line is "# HELP name text", "# TYPE name type" or a sample
  "name{label="value",...} value [timestamp]" (no blank or other lines);
- metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  [a-zA-Z_][a-zA-Z0-9_]* (not "__..."), label values use only the escapes
  \\\\ \\" \\n, no label twice in a sample;
- values are floats (NaN, +Inf, -Inf included), timestamps integers;
- every sample belongs to a family with a TYPE line before it (histograms:
  name_bucket, name_sum, name_count), a family has one HELP and one TYPE
  line, its samples are contiguous and no series repeats;
- counters are >= 0 and named ..._total;
- histograms: per label set, buckets with increasing le and non-decreasing
  counts, the last le="+Inf" and equal to _count, and a _sum.
Then prints the value of each SERIES given, written as in the text (name or
name{labels}): a missing one is an error too. Used by tests/e2e/metrics.bats.
When Prometheus's own Python client is importable (Debian's
python3-prometheus-client, installed by .ci/run), its parser must accept
the text as well.
"""
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def parse_float(s):
    if s in ('NaN', '+Inf', '-Inf', 'Inf'):
        return float(s.replace('Inf', 'inf').replace('NaN', 'nan'))
    if not re.fullmatch(r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?', s):
        raise ValueError(s)
    return float(s)


def parse_sample(line):
    """(name, labels as a list of (k, v), value text, rest) or raises."""
    m = NAME.match(line)
    if not m:
        raise ValueError('no metric name')
    name, i = m.group(0), m.end()
    labels = []
    if i < len(line) and line[i] == '{':
        i += 1
        while True:
            if line[i] == '}':
                i += 1
                break
            lm = LABEL.match(line, i)
            if not lm:
                raise ValueError('bad label name at column %d' % i)
            key = lm.group(0)
            if key.startswith('__'):
                raise ValueError('reserved label name ' + key)
            i = lm.end()
            if line[i:i + 2] != '="':
                raise ValueError('expected =" after label ' + key)
            i += 2
            val = []
            while line[i] != '"':
                if line[i] == '\\':
                    esc = line[i + 1]
                    if esc not in '\\"n':
                        raise ValueError('bad escape \\' + esc)
                    val.append('\n' if esc == 'n' else esc)
                    i += 2
                else:
                    val.append(line[i])
                    i += 1
            i += 1
            if any(k == key for k, _ in labels):
                raise ValueError('label %s twice' % key)
            labels.append((key, ''.join(val)))
            if line[i] == ',':
                i += 1
            elif line[i] != '}':
                raise ValueError('expected , or } at column %d' % i)
    if i >= len(line) or line[i] != ' ':
        raise ValueError('expected a space before the value')
    parts = line[i + 1:].split(' ')
    if len(parts) not in (1, 2) or not parts[0]:
        raise ValueError('expected "value [timestamp]"')
    parse_float(parts[0])
    if len(parts) == 2 and not re.fullmatch(r'-?\d+', parts[1]):
        raise ValueError('bad timestamp ' + parts[1])
    return name, labels, parts[0], line[:i]


def check(text):
    errors = []
    types, helps = {}, set()
    done = set()          # families whose samples ended
    current = None        # the family of the previous sample
    series = {}           # "name{labels}" text -> value text
    seen_keys = set()
    hist = {}             # (family, labels without le) -> state

    def err(n, msg):
        errors.append('line %d: %s' % (n, msg))

    if text and not text.endswith('\n'):
        errors.append('the text does not end with a newline')
    for n, line in enumerate(text.split('\n')[:-1] if text.endswith('\n') else text.split('\n'), 1):
        if line.startswith('#'):
            m = re.fullmatch(r'# (HELP|TYPE) (\S+) ?(.*)', line)
            if not m:
                err(n, 'a comment that is neither # HELP nor # TYPE: %r' % line)
                continue
            kind, fam, rest = m.groups()
            if not NAME.fullmatch(fam):
                err(n, 'bad metric name %r' % fam)
            if kind == 'TYPE':
                if fam in types:
                    err(n, 'second TYPE for %s' % fam)
                if rest not in TYPES:
                    err(n, 'unknown type %r' % rest)
                if fam in done or fam == current:
                    err(n, 'TYPE for %s after its samples' % fam)
                types[fam] = rest
            else:
                if fam in helps:
                    err(n, 'second HELP for %s' % fam)
                helps.add(fam)
            continue
        try:
            name, labels, value, key = parse_sample(line)
        except (ValueError, IndexError) as e:
            err(n, 'not a sample (%s): %r' % (e, line))
            continue
        fam = name
        if name not in types:
            for suffix in ('_bucket', '_sum', '_count'):
                base = name[:-len(suffix)]
                if name.endswith(suffix) and types.get(base) in ('histogram', 'summary'):
                    fam = base
                    break
        if fam not in types:
            err(n, 'sample %s has no TYPE line before it' % name)
            continue
        if fam != current:
            if fam in done:
                err(n, 'samples of %s are not contiguous' % fam)
            if current is not None:
                done.add(current)
            current = fam
        if key in seen_keys:
            err(n, 'series %s twice' % key)
        seen_keys.add(key)
        series[key] = value
        v = parse_float(value)
        t = types[fam]
        if t == 'counter':
            if not fam.endswith('_total'):
                err(n, 'counter %s is not named ..._total' % fam)
            if not (v >= 0):
                err(n, 'counter %s is negative or NaN' % key)
        if t == 'histogram':
            rest = tuple((k, x) for k, x in labels if k != 'le')
            h = hist.setdefault((fam, rest), {'le': [], 'sum': None, 'count': None, 'line': n})
            if name.endswith('_bucket'):
                le = dict(labels).get('le')
                if le is None:
                    err(n, '%s without le' % key)
                    continue
                h['le'].append((parse_float(le), v, n))
            elif name.endswith('_sum'):
                h['sum'] = v
            elif name.endswith('_count'):
                h['count'] = v
    for (fam, rest), h in hist.items():
        where = '%s%s (line %d)' % (fam, dict(rest) or '', h['line'])
        b = h['le']
        if not b:
            errors.append('%s: no buckets' % where)
            continue
        for (le0, c0, _), (le1, c1, ln) in zip(b, b[1:]):
            if not le1 > le0:
                errors.append('line %d: %s: le %g after %g' % (ln, fam, le1, le0))
            if c1 < c0:
                errors.append('line %d: %s: bucket count %g below the previous %g' % (ln, fam, c1, c0))
        if not math.isinf(b[-1][0]):
            errors.append('%s: the last bucket is not le="+Inf"' % where)
        if h['count'] is None or h['sum'] is None:
            errors.append('%s: no _count or no _sum' % where)
        elif b[-1][1] != h['count']:
            errors.append('%s: +Inf bucket %g != _count %g' % (where, b[-1][1], h['count']))
    return errors, series


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src = sys.argv[1]
    text = sys.stdin.read() if src == '-' else open(src, encoding='utf-8').read()
    if not text:
        print('promcheck: %s: empty' % src, file=sys.stderr)
        return 1
    errors, series = check(text)
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        pass
    else:
        try:
            for _ in text_string_to_metric_families(text):
                pass
        except Exception as e:  # whatever it rejects, say why
            errors.append('prometheus_client rejects it: %s' % e)
    for want in sys.argv[2:]:
        if want in series:
            print(series[want])
        else:
            errors.append('no series %s' % want)
    for e in errors:
        print('promcheck: %s: %s' % (src, e), file=sys.stderr)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
