#!/usr/bin/env python3
"""Import cycles in the library crate (src/, without main.rs).

Reads every module's paths that name another module (`use crate::…`, `use super::…`,
`self::…`, `$crate::…`, `crate::…` in expressions, and `child::…` for a child module), resolves
each to the deepest module it names, and reports:
  - cycles between the top-level modules of src/ (tensor, backend, ops, …);
  - cycles between the modules (files) inside src/backend/cpu/fast/.
Declaring a child (`mod x;`) is containment, not a dependency. Unit tests inside a file count as
that file. Exit status 1 on a cycle, 0 otherwise.

Usage: scripts/check_layering.py [--edges]   (--edges also prints the top-level edges)
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
FAST = ("backend", "cpu", "fast")


def strip(text):
    """The source with comments, string and char literals blanked (braces in them would
    confuse the module tracking)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif c == "r" and re.match(r'r#*"', text[i:]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                i += len(m.group(0))
                out.append("' '")
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_files():
    """{module path tuple: file} for the library crate."""
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        parts = () if rel == "." else tuple(rel.split(os.sep))
        for f in files:
            if not f.endswith(".rs"):
                continue
            if parts == () and f == "main.rs":
                continue
            if f in ("mod.rs", "lib.rs"):
                mods[parts] = os.path.join(dirpath, f)
            else:
                mods[parts + (f[:-3],)] = os.path.join(dirpath, f)
    return mods


def expand_use(tree):
    """`a::{b, c::{d, self}}` -> ['a::b', 'a::c::d', 'a::c']."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    depth, start, parts = 0, 0, []
    for i, c in enumerate(tree):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(tree[start:i])
            start = i + 1
    parts.append(tree[start:])
    paths = []
    for p in parts:
        if not p:
            continue
        b = p.find("{")
        if b < 0:
            paths.append(p)
            continue
        prefix = p[:b].rstrip(":")
        for sub in expand_use(p[b + 1 : p.rindex("}")]):
            paths.append(prefix if sub == "self" else prefix + "::" + sub)
    return paths


def resolve(path, here, mods):
    """The deepest module `path` (segments) names, seen from module `here`; None outside."""
    segs = path.split("::")
    if segs[0] in ("crate", "$crate"):
        base, segs = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = here
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    elif here + (segs[0],) in mods:
        base = here
    else:
        return None
    best = base
    for s in segs:
        if base + (s,) in mods:
            base = base + (s,)
            best = base
        else:
            break
    return best


def root_reexports(mods):
    """Names the crate root re-exports (`pub use tensor::{Tensor, …}`), to their module."""
    text = strip(open(mods[()]).read())
    out = {}
    for m in re.finditer(r"pub\s+use\s+([^;]+);", text):
        for p in expand_use(m.group(1)):
            name = p.split("::")[-1]
            out[name] = p.split("::")[0]
    return out


PATH = re.compile(r"(?<![\w:])(\$?crate|super|self|[a-z_][a-z0-9_]*)((?:\s*::\s*(?:super|\w+))+)")


def edges(mods):
    """{(from module, to module)} over every file, inline modules (`mod tests { … }`) resolved."""
    reexports = root_reexports(mods)
    found = set()
    for here, path in mods.items():
        text = strip(open(path).read())
        # Inline modules: a stack of (name, brace depth at which it closes).
        stack, depth, pos = [], 0, 0
        tokens = re.finditer(r"\bmod\s+(\w+)\s*\{|[{}]|\buse\s+([^;]+);|" + PATH.pattern, text)
        for m in tokens:
            tok = m.group(0)
            cur = here + tuple(s for s, _ in stack)
            if tok.startswith("mod") and m.group(1):
                depth += 1
                stack.append((m.group(1), depth))
                continue
            if tok == "{":
                depth += 1
                continue
            if tok == "}":
                if stack and stack[-1][1] == depth:
                    stack.pop()
                depth -= 1
                continue
            if m.group(2) is not None:
                candidates = expand_use(m.group(2))
            else:
                candidates = [re.sub(r"\s+", "", tok)]
            for p in candidates:
                p = p.lstrip(":")
                segs = p.split("::")
                if segs[0] == "crate" and len(segs) > 1 and segs[1] in reexports and () + (segs[1],) not in mods:
                    target = (reexports[segs[1]],)
                else:
                    target = resolve(p, cur, mods)
                if target is None:
                    continue
                # A path into an inline module of this file is this file.
                while target not in mods:
                    target = target[:-1]
                if target != here:
                    found.add((here, target))
    return found


def cycles(nodes, graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def one_cycle(comp, graph):
    """A shortest cycle through the first node of `comp`, as a list of nodes (BFS)."""
    start = comp[0]
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in comp and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def main():
    mods = module_files()
    found = edges(mods)
    failed = False

    top = {}
    for a, b in found:
        if a and b and a[0] != b[0]:
            top.setdefault(a[0], set()).add(b[0])
    top_nodes = {m[0] for m in mods if m}
    if "--edges" in sys.argv:
        for a in sorted(top):
            print(f"{a} -> {', '.join(sorted(top[a]))}")
    for comp in cycles(top_nodes, top):
        failed = True
        print(f"cycle between top-level modules: {' -> '.join(one_cycle(comp, top))}")
        # The uses behind each arrow inside the cycle, fewest first: the odd one out is the mistake.
        arrows = {}
        for a, b in sorted(found):
            if a and b and a[0] in comp and b[0] in comp and a[0] != b[0]:
                arrows.setdefault((a[0], b[0]), []).append(f"{'::'.join(a)} uses {'::'.join(b)}")
        for (a, b), uses in sorted(arrows.items(), key=lambda kv: len(kv[1])):
            shown = "; ".join(uses[:3]) + ("; ..." if len(uses) > 3 else "")
            print(f"  {a} -> {b}: {len(uses)} use(s): {shown}")

    name = "::".join
    fast = {}
    for a, b in found:
        if a[: len(FAST)] == FAST and b[: len(FAST)] == FAST:
            fast.setdefault(name(a), set()).add(name(b))
    fast_nodes = {name(m) for m in mods if m[: len(FAST)] == FAST}
    for comp in cycles(fast_nodes, fast):
        failed = True
        print(f"cycle inside {name(FAST)}: {' -> '.join(one_cycle(comp, fast))}")

    print(
        f"layering: {len(top_nodes)} top-level modules, {len(fast_nodes)} modules in {name(FAST)}: "
        + ("cycles found" if failed else "no cycles")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
