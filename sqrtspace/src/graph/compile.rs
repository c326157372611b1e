//! Compile-time graph analysis: the const fns that `pipeline!` calls in `const` items to reject
//! duplicate stages and cycles (with the cycle spelled out), order stages topologically and
//! render the graph as DOT and Mermaid text. All of it runs in rustc's const evaluator, so a bad
//! graph fails `cargo check`, and the results are constants of the pipeline type.

use crate::stage::StageMeta;

pub use super::edges::{edge_count, resolve, NONE};
use super::edges::{first_edges, sorted_ids};

/// Text formats of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Graphviz DOT (`dot -Tpng`).
    Dot,
    /// Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
}

/// String equality in const context. Compares from the end: stage ids
/// (`module_path::name`) of one pipeline usually share their module prefix and differ in the
/// name, so a mismatch is found in a byte or two.
pub(super) const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = a.len();
    while i > 0 {
        i -= 1;
        if a[i] != b[i] {
            return false;
        }
    }
    true
}

/// Index of the stage with `id` in `stages`.
#[must_use]
pub const fn index_of(stages: &[StageMeta], id: &str) -> Option<usize> {
    let mut i = 0;
    while i < stages.len() {
        if str_eq(stages[i].id, id) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A byte sink for const string building: writes while there is room and always counts, so a
/// first pass with an empty buffer measures the length.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    const fn put(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if self.len < self.buf.len() {
                self.buf[self.len] = b[i];
            }
            self.len += 1;
            i += 1;
        }
    }

    const fn num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut k = 0;
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while k > 0 {
            k -= 1;
            if self.len < self.buf.len() {
                self.buf[self.len] = digits[k];
            }
            self.len += 1;
        }
    }
}

/// Views const-built bytes as `&str` (they are always UTF-8: built from `&str` pieces).
#[must_use]
pub const fn as_str(bytes: &[u8]) -> &str {
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => panic!("sqrtspace: generated graph text is not UTF-8"),
    }
}

/// Rejects duplicate stages and cycles; called by `pipeline!` in a `const` item, so it fails
/// at compile time with a message such as
/// ``pipeline `P` has a cycle: `a -> b -> c -> a`; a stage cannot depend on its own output``.
/// `deps` is [`resolve`]'s table.
///
/// Inputs naming a stage outside `stages` are skipped here: the `Has<S>` trait bound reports
/// them with a pointed message.
///
/// # Panics
/// At compile time, on a duplicate stage or a cycle (lookback edges count: feedback belongs in
/// a stage's state).
pub const fn check_graph<const N: usize>(stages: &[StageMeta], deps: &[usize], pipeline: &str) {
    // Equal ids are neighbours in the sorted order.
    let (hash, order) = sorted_ids::<N>(stages);
    let mut p = 1;
    while p < N {
        let (a, b) = (order[p - 1], order[p]);
        if hash[a] == hash[b] && str_eq(stages[a].id, stages[b].id) {
            let mut buf = [0u8; 256];
            let mut o = Out {
                buf: &mut buf,
                len: 0,
            };
            o.put("pipeline `");
            o.put(pipeline);
            o.put("` lists stage `");
            o.put(stages[a].name);
            o.put("` twice; list each stage once");
            let len = o.len;
            fail(&buf, len);
        }
        p += 1;
    }
    let first = first_edges::<N>(stages);
    // Iterative DFS along "depends on" edges; grey = on the stack.
    let mut color = [0u8; N];
    let mut stack = [0usize; N];
    let mut next = [0usize; N];
    let mut root = 0;
    while root < N {
        if color[root] != 0 {
            root += 1;
            continue;
        }
        let mut top = 0;
        stack[0] = root;
        next[0] = 0;
        color[root] = 1;
        loop {
            let node = stack[top];
            if next[top] < stages[node].inputs.len() {
                let dep = deps[first[node] + next[top]];
                next[top] += 1;
                if dep == NONE {
                    continue;
                }
                if color[dep] == 1 {
                    cycle(stages, pipeline, &stack, top, dep);
                }
                if color[dep] == 0 {
                    color[dep] = 1;
                    top += 1;
                    stack[top] = dep;
                    next[top] = 0;
                }
            } else {
                color[node] = 2;
                if top == 0 {
                    break;
                }
                top -= 1;
            }
        }
        root += 1;
    }
}

/// Spells the cycle in data-flow order: `dep` feeds `stack[top]`, which feeds `stack[top-1]`,
/// ..., back to `dep`.
const fn cycle(stages: &[StageMeta], pipeline: &str, stack: &[usize], top: usize, dep: usize) {
    let mut buf = [0u8; 1024];
    let mut o = Out {
        buf: &mut buf,
        len: 0,
    };
    o.put("pipeline `");
    o.put(pipeline);
    o.put("` has a cycle: `");
    o.put(stages[dep].name);
    let mut p = top + 1;
    while p > 0 {
        p -= 1;
        o.put(" -> ");
        o.put(stages[stack[p]].name);
        if stack[p] == dep {
            break;
        }
    }
    o.put("`; a stage cannot depend on its own output, even through lookback: keep feedback in a stage's state");
    let len = o.len;
    fail(&buf, len);
}

const fn fail(buf: &[u8], len: usize) {
    let len = if len > buf.len() { buf.len() } else { len };
    // A message longer than the buffer can be cut inside a multi-byte character of a stage
    // name: keep the longest valid prefix.
    let len = match core::str::from_utf8(buf.split_at(len).0) {
        Ok(_) => len,
        Err(e) => e.valid_up_to(),
    };
    panic!("{}", as_str(buf.split_at(len).0));
}

/// Topological order of `stages` (inputs before their consumers, ties in declaration order),
/// Kahn's algorithm (Kahn 1962, "Topological sorting of large networks", CACM 5(11)) with a
/// min-heap of the ready stages: `O((N + E) log N)`. `deps` is [`resolve`]'s table.
///
/// On a cycle it returns the declaration order: [`check_graph`], which `pipeline!` evaluates in
/// a constant of its own, rejects the graph with the cycle spelled out.
#[must_use]
pub const fn topo<const N: usize, const E: usize>(
    stages: &[StageMeta],
    deps: &[usize],
) -> [usize; N] {
    // Unresolved inputs of each stage, and the consumers of each stage (CSR: `users[start[d]..
    // start[d] + count[d]]`).
    let mut missing = [0usize; N];
    let mut count = [0usize; N];
    let mut k = 0;
    let mut i = 0;
    while i < N {
        let mut e = 0;
        while e < stages[i].inputs.len() {
            let d = deps[k];
            if d != NONE {
                missing[i] += 1;
                count[d] += 1;
            }
            k += 1;
            e += 1;
        }
        i += 1;
    }
    let mut start = [0usize; N];
    let mut acc = 0;
    i = 0;
    while i < N {
        start[i] = acc;
        acc += count[i];
        i += 1;
    }
    let mut fill = start;
    let mut users = [0usize; E];
    k = 0;
    i = 0;
    while i < N {
        let mut e = 0;
        while e < stages[i].inputs.len() {
            let d = deps[k];
            if d != NONE {
                users[fill[d]] = i;
                fill[d] += 1;
            }
            k += 1;
            e += 1;
        }
        i += 1;
    }
    // Min-heap of ready stage indices (filled in ascending order: already a heap).
    let mut heap = [0usize; N];
    let mut len = 0;
    i = 0;
    while i < N {
        if missing[i] == 0 {
            heap[len] = i;
            len += 1;
        }
        i += 1;
    }
    let mut order = [0usize; N];
    let mut n = 0;
    while len > 0 {
        let picked = heap[0];
        len -= 1;
        heap[0] = heap[len];
        heap_down(&mut heap, len);
        order[n] = picked;
        n += 1;
        let mut u = start[picked];
        while u < start[picked] + count[picked] {
            let c = users[u];
            missing[c] -= 1;
            if missing[c] == 0 {
                heap[len] = c;
                let mut p = len;
                len += 1;
                while p > 0 && heap[(p - 1) / 2] > heap[p] {
                    let t = heap[p];
                    heap[p] = heap[(p - 1) / 2];
                    heap[(p - 1) / 2] = t;
                    p = (p - 1) / 2;
                }
            }
            u += 1;
        }
    }
    if n < N {
        // A cycle: `check_graph` fails the compilation with the chain spelled out (in its own
        // constant, so this one adds no second error); the declaration order stands in.
        let mut i = 0;
        while i < N {
            order[i] = i;
            i += 1;
        }
    }
    order
}

/// Restores the min-heap property of `heap[..len]` from the root.
const fn heap_down(heap: &mut [usize], len: usize) {
    let mut root = 0;
    loop {
        let mut child = 2 * root + 1;
        if child >= len {
            return;
        }
        if child + 1 < len && heap[child + 1] < heap[child] {
            child += 1;
        }
        if heap[root] <= heap[child] {
            return;
        }
        let t = heap[root];
        heap[root] = heap[child];
        heap[child] = t;
        root = child;
    }
}

/// Renders the graph as text; returns the number of bytes the full text needs (it writes as
/// much as fits in `buf`). `pipeline!` calls it twice in const items: once with an empty
/// buffer for the length, once to fill an array of that length. `deps` is [`resolve`]'s table.
pub const fn render_into(
    stages: &[StageMeta],
    deps: &[usize],
    pipeline: &str,
    format: Format,
    buf: &mut [u8],
) -> usize {
    let mut o = Out { buf, len: 0 };
    let dot = matches!(format, Format::Dot);
    if dot {
        o.put("digraph ");
        o.put(pipeline);
        o.put(" {\n  rankdir=LR;\n  input [shape=box, label=\"input\\nframes\"];\n");
    } else {
        o.put("flowchart LR\n  input[/\"input (frames)\"/]\n");
    }
    let mut i = 0;
    while i < stages.len() {
        let s = &stages[i];
        o.put("  ");
        o.put(s.name);
        if dot {
            o.put(" [label=\"");
            o.put(s.name);
            o.put("\\ncost ");
            o.num(s.cost as u64);
            if s.stateful {
                o.put(", state");
            }
            o.put("\"];\n");
        } else {
            o.put("[\"");
            o.put(s.name);
            o.put(" (cost ");
            o.num(s.cost as u64);
            if s.stateful {
                o.put(", state");
            }
            o.put(")\"]\n");
        }
        i += 1;
    }
    i = 0;
    let mut k = 0;
    while i < stages.len() {
        let s = &stages[i];
        let mut e = 0;
        while e < s.inputs.len() {
            let edge = s.inputs[e];
            let from = match edge.stage {
                Some(_) if deps[k] != NONE => stages[deps[k]].name,
                Some(_) => edge.name,
                None => "input",
            };
            k += 1;
            o.put("  ");
            o.put(from);
            if edge.offset == 0 {
                o.put(if dot { " -> " } else { " --> " });
            } else if dot {
                o.put(" -> ");
            } else {
                o.put(" -. \"t-");
                o.num(edge.offset);
                o.put("\" .-> ");
            }
            o.put(s.name);
            if dot && edge.offset > 0 {
                o.put(" [style=dashed, label=\"t-");
                o.num(edge.offset);
                o.put("\"]");
            }
            o.put(if dot { ";\n" } else { "\n" });
            e += 1;
        }
        i += 1;
    }
    if dot {
        o.put("}\n");
    }
    o.len
}

/// [`render_into`] into an array of exactly `LEN` bytes.
#[must_use]
pub const fn render<const LEN: usize>(
    stages: &[StageMeta],
    deps: &[usize],
    pipeline: &str,
    format: Format,
) -> [u8; LEN] {
    let mut buf = [0u8; LEN];
    render_into(stages, deps, pipeline, format, &mut buf);
    buf
}

/// The length [`render`] needs.
#[must_use]
pub const fn render_len(
    stages: &[StageMeta],
    deps: &[usize],
    pipeline: &str,
    format: Format,
) -> usize {
    render_into(stages, deps, pipeline, format, &mut [])
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod message_cut_tests;
