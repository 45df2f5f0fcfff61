#!/usr/bin/env python3
"""The gateway's files must not depend on each other in a circle.

A file depends on every gateway header it #includes and on every gateway .c
file that defines a function it calls (or a global it names). Headers are
nodes of their own: gw.h declares the shared state and embeds gw_conns and
gw_metrics by value, and the .c files read it; that is not a circle as long
as no header includes, directly or not, a header that includes it back.

Prints the files floor by floor (a file stands above everything it depends
on) and exits 1, naming each circle and the names that tie it, if there is
one. Usage: ws-gateway/check_layers.py [DIR] (default: this script's dir).
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# a function definition: a line starting at column 0 whose name is followed
# by "(" and whose body opens on it or the next lines (K&R-free code base)
DEFN = re.compile(r'^[A-Za-z_][\w \t\*]*?\b(gw_\w+)\s*\([^;{]*\)\s*\{', re.M)
CALL = re.compile(r'\b(gw_\w+)\s*\(')
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def strip(text):
    return STRING.sub('""', COMMENT.sub(' ', text))


def graph(d):
    files = sorted(f for f in os.listdir(d) if f.endswith(('.c', '.h')))
    text = {f: open(os.path.join(d, f), encoding='utf-8').read() for f in files}
    defined = {}
    for f in files:
        if f.endswith('.c'):
            for name in DEFN.findall(strip(text[f])):
                defined.setdefault(name, f)
    edges = {f: {} for f in files}
    for f in files:
        for inc in INCLUDE.findall(text[f]):
            if inc in edges and inc != f:
                edges[f].setdefault(inc, set()).add('#include')
        if f.endswith('.c'):
            body = strip(text[f])
            for name in CALL.findall(body):
                g = defined.get(name)
                if g and g != f:
                    edges[f].setdefault(g, set()).add(name)
    return files, edges


def circles(files, edges):
    """Tarjan's strongly connected components of more than one file."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in files:
        if v not in index:
            visit(v)
    return out


def floors(files, edges):
    floor = {}

    def height(v, seen=()):
        if v in floor:
            return floor[v]
        if v in seen:
            return 0
        h = 1 + max((height(w, seen + (v,)) for w in edges[v]), default=0)
        floor[v] = h
        return h

    for v in files:
        height(v)
    return floor


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    files, edges = graph(d)
    found = circles(files, edges)
    floor = floors(files, edges)
    for f in sorted(files, key=lambda f: (-floor[f], f)):
        deps = ', '.join(sorted(edges[f]))
        print(f'floor {floor[f]:2}  {f:18} -> {deps}')
    for comp in found:
        print('CIRCLE: ' + ' '.join(comp))
        for a in comp:
            for b in comp:
                if b in edges[a]:
                    names = ', '.join(sorted(edges[a][b]))
                    print(f'  {a} -> {b}: {names}')
    if found:
        return 1
    print(f'no circle among {len(files)} files')
    return 0


if __name__ == '__main__':
    sys.exit(main())
