//! Checks that need no type information: keys, an empty or duplicated stage list, an output
//! that is not a stage. Cycles and unknown inputs need the stages' metadata and are checked by
//! rustc: `const _` items for cycles, `Has<S>` bounds for inputs missing from the pipeline.

use super::parse::{PipelineDecl, KEYS};
use crate::errors::{did_you_mean, Errors};
use quote::ToTokens;

fn path_key(p: &syn::Path) -> String {
    p.to_token_stream().to_string().replace(' ', "")
}

fn last_segment(p: &syn::Path) -> String {
    p.segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// The index in `stages` of the entry that `o` names: the same path, else an entry whose
/// last segment is `o` (`output: c` for `stages: [m::c]`).
pub fn stage_index(stages: &[syn::Path], o: &syn::Path) -> Option<usize> {
    let k = path_key(o);
    stages
        .iter()
        .position(|s| path_key(s) == k)
        .or_else(|| stages.iter().position(|s| last_segment(s) == k))
}

pub fn check(decl: &PipelineDecl, errors: &mut Errors) {
    let mut stages_misspelt = false;
    for key in &decl.unknown {
        let k = key.to_string();
        let suggestion = did_you_mean(&k, KEYS);
        stages_misspelt |= suggestion == Some("stages");
        let msg = match suggestion {
            Some(s) => format!("unknown key `{k}` in pipeline!\n\nhelp: did you mean `{s}`?"),
            None => format!("unknown key `{k}` in pipeline!\n\nhelp: the keys are `sample`, `params`, `stages` and `output`"),
        };
        errors.error(key, msg);
    }
    for key in &decl.duplicate_keys {
        errors.error(key, format!("`{key}` is given twice"));
    }
    if !decl.stages_given {
        // A misspelt `stages` key already says what is wrong.
        if !stages_misspelt {
            errors.error(
                &decl.name,
                format!("pipeline `{}` has no `stages`\n\nhelp: list its stages: `stages: [spectrum, flux, ...]`", decl.name),
            );
        }
    } else if decl.stages.is_empty() {
        errors.span_error(
            decl.stages_span,
            "a pipeline needs at least one stage: `stages: [a, b, ...]`",
        );
    }
    let keys: Vec<String> = decl.stages.iter().map(path_key).collect();
    let names: Vec<String> = decl.stages.iter().map(last_segment).collect();
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].contains(k) {
            errors.error(
                &decl.stages[i],
                format!("stage `{k}` is listed twice in pipeline `{}`\n\nhelp: remove this entry; list each stage once", decl.name),
            );
        } else if let Some(j) = names[..i].iter().position(|n| *n == names[i]) {
            // Either the same stage by two paths (`level` and `dsp::level` after `use
            // dsp::level`), or two functions of the same name in different modules: the
            // macro cannot tell which, and in both cases the name is ambiguous (`output:`,
            // DOT and Mermaid nodes, counters and reports name stages by function name).
            errors.error(
                &decl.stages[i],
                format!(
                    "`{k}` and `{}` are both named `{}` in pipeline `{}`\n\nhelp: if both paths name the same stage, list it once; if they are two stages, rename one of the functions (a stage's name labels its node in DOT and Mermaid, its counters and `output:`)",
                    keys[j], names[i], decl.name
                ),
            );
        }
    }
    if let Some(t) = &decl.sample {
        check_sample(t, errors);
    }
    if let Some(out) = &decl.output {
        if let super::parse::Output::List { paths, span } = out {
            if paths.is_empty() {
                errors.span_error(
                    *span,
                    "`output: []` names no stage\n\nhelp: name one output stage (`output: s`) or several (`output: [a, b]`)",
                );
            }
        }
        let mut seen: Vec<String> = Vec::new();
        for out in out.paths() {
            let k = path_key(out);
            if seen.contains(&k) {
                errors.error(
                    out,
                    format!("output `{k}` is listed twice\n\nhelp: remove this entry; list each output stage once"),
                );
                continue;
            }
            seen.push(k.clone());
            if stage_index(&decl.stages, out).is_none() {
                let names: Vec<String> = decl.stages.iter().map(last_segment).collect();
                let msg = match did_you_mean(&k, names.iter().map(String::as_str)) {
                    Some(s) => format!("output `{k}` is not one of the pipeline's stages\n\nhelp: did you mean `{s}`?"),
                    None => format!("output `{k}` is not one of the pipeline's stages\n\nhelp: add it to `stages: [...]`"),
                };
                errors.error(out, msg);
            }
        }
    }
}

/// Sample types that are certainly not `Copy` (owning containers, slices), reported in
/// the DSL's terms; any other non-`Copy` type gets rustc's "the trait bound `T: Copy` is not
/// satisfied" at the same token.
fn check_sample(t: &syn::Type, errors: &mut Errors) {
    if not_a_sample(t) {
        errors.error(
            t,
            format!(
                "`{}` cannot be a pipeline's `sample` type: a sample is one `Copy` value (a number), which the engine copies into frames of `window` samples and buffers for recomputation\n\nhelp: use a numeric type (`f32`, the default, `f64`, `i16`, `Complex<f32>`); decode or split richer input into numbers before pushing it, and build richer values in a stage",
                crate::errors::pretty(t)
            ),
        );
    }
}

/// Whether `t` is certainly not `Copy`: an owning container or a slice.
pub fn not_a_sample(t: &syn::Type) -> bool {
    const OWNING: [&str; 10] = [
        "String", "Vec", "Box", "VecDeque", "HashMap", "BTreeMap", "HashSet", "BTreeSet", "Rc",
        "Arc",
    ];
    match t {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| OWNING.contains(&s.ident.to_string().as_str())),
        syn::Type::Slice(_) => true,
        _ => false,
    }
}
