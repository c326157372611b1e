//! Compile-time graph analysis: the const fns that `pipeline!` calls in `const` items to reject
//! duplicate stages and cycles (with the cycle spelled out), order stages topologically and
//! render the graph as DOT and Mermaid text. All of it runs in rustc's const evaluator, so a bad
//! graph fails `cargo check`, and the results are constants of the pipeline type.

use crate::stage::StageMeta;

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
/// name, so a mismatch is found in a byte or two. The graph checks compare ids pairwise, and
/// const evaluation is interpreted: comparing from the start made a 200-stage pipeline
/// exceed rustc's const-evaluation limit (`long_running_const_eval`).
const fn str_eq(a: &str, b: &str) -> bool {
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

/// Rejects duplicate stages and cycles; called by `pipeline!` in a `const _` item, so it fails
/// at compile time with a message such as
/// ``pipeline `P` has a cycle: `a -> b -> c -> a`; a stage cannot depend on its own output``.
///
/// Inputs naming a stage outside `stages` are skipped here: the `Has<S>` trait bound reports
/// them with a pointed message.
///
/// # Panics
/// At compile time, on a duplicate stage or a cycle (lookback edges count: feedback belongs in
/// a stage's state).
pub const fn check_graph<const N: usize>(stages: &[StageMeta], pipeline: &str) {
    let mut i = 0;
    while i < N {
        let mut j = i + 1;
        while j < N {
            if str_eq(stages[i].id, stages[j].id) {
                let mut buf = [0u8; 256];
                let mut o = Out {
                    buf: &mut buf,
                    len: 0,
                };
                o.put("pipeline `");
                o.put(pipeline);
                o.put("` lists stage `");
                o.put(stages[i].name);
                o.put("` twice; list each stage once");
                let len = o.len;
                fail(&buf, len);
            }
            j += 1;
        }
        i += 1;
    }
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
            let inputs = stages[node].inputs;
            if next[top] < inputs.len() {
                let edge = inputs[next[top]];
                next[top] += 1;
                let Some(id) = edge.stage else { continue };
                let Some(dep) = index_of(stages, id) else {
                    continue;
                };
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
/// Kahn's algorithm (Kahn 1962, "Topological sorting of large networks", CACM 5(11)).
///
/// # Panics
/// At compile time on a cycle ([`check_graph`] reports it first with the chain).
#[must_use]
pub const fn topo<const N: usize>(stages: &[StageMeta]) -> [usize; N] {
    let mut order = [0usize; N];
    let mut done = [false; N];
    let mut n = 0;
    while n < N {
        let mut picked = N;
        let mut i = 0;
        while i < N && picked == N {
            if !done[i] {
                let mut ready = true;
                let ins = stages[i].inputs;
                let mut e = 0;
                while e < ins.len() {
                    if let Some(id) = ins[e].stage {
                        if let Some(d) = index_of(stages, id) {
                            if !done[d] {
                                ready = false;
                            }
                        }
                    }
                    e += 1;
                }
                if ready {
                    picked = i;
                }
            }
            i += 1;
        }
        if picked == N {
            panic!("sqrtspace: the stage graph has a cycle");
        }
        done[picked] = true;
        order[n] = picked;
        n += 1;
    }
    order
}

/// Renders the graph as text; returns the number of bytes the full text needs (it writes as
/// much as fits in `buf`). `pipeline!` calls it twice in const items: once with an empty
/// buffer for the length, once to fill an array of that length.
pub const fn render_into(
    stages: &[StageMeta],
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
    while i < stages.len() {
        let s = &stages[i];
        let mut e = 0;
        while e < s.inputs.len() {
            let edge = s.inputs[e];
            let from = match edge.stage {
                Some(id) => match index_of(stages, id) {
                    Some(d) => stages[d].name,
                    None => edge.name,
                },
                None => "input",
            };
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
    pipeline: &str,
    format: Format,
) -> [u8; LEN] {
    let mut buf = [0u8; LEN];
    render_into(stages, pipeline, format, &mut buf);
    buf
}

/// The length [`render`] needs.
#[must_use]
pub const fn render_len(stages: &[StageMeta], pipeline: &str, format: Format) -> usize {
    render_into(stages, pipeline, format, &mut [])
}

#[cfg(test)]
mod message_cut_tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        // "pipeline `Pq` lists stage `" is 27 bytes, then 2-byte characters: the 256-byte
        // buffer ends inside one.
        let name: &'static str = "é".repeat(200).leak();
        let stage = StageMeta {
            name,
            id: name,
            cost: 1,
            stateful: false,
            inputs: &[],
        };
        let err = std::panic::catch_unwind(|| check_graph::<2>(&[stage, stage], "Pq"))
            .expect_err("a duplicate stage is rejected");
        let text = err
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_default();
        assert!(text.starts_with("pipeline `Pq` lists stage `éé"), "{text}");
        assert!(text.len() <= 256 && text.len() >= 254, "{}", text.len());
    }
}
