//! Semantic checks of a `#[stage]` function against its attribute, producing the model that
//! expansion needs. Every problem is reported on the user's token.

use super::parse::{InputRef, StageArgs};
use crate::errors::{located_at, pretty, Errors};
use proc_macro2::Span;
use quote::ToTokens;

/// The longest lookback a stage may declare, in windows (bounds the dependency span).
pub const MAX_LOOKBACK: i64 = 1024;

pub enum Arg {
    /// The `i`-th input of `inputs`.
    Input(usize),
    State,
    Params,
    /// The `#[out]` buffer.
    Out,
    /// The `#[scratch]` value.
    Scratch,
}

pub struct Input {
    pub path: syn::Path,
    pub name: String,
    pub offset: u64,
    pub frames: bool,
    pub span: Span,
    /// The parameter's type as written.
    pub ty: syn::Type,
}

pub struct Model {
    pub inputs: Vec<Input>,
    /// Call order of the function's parameters.
    pub args: Vec<Arg>,
    pub state: Option<syn::Type>,
    pub params: Option<syn::Type>,
    /// Where the `#[params]` type (`P` of `&P`) is written (call-site hygiene).
    pub params_span: Span,
    /// Sample type, from a `&[T]` frame parameter.
    pub sample: Option<syn::Type>,
    /// Where the sample type (`T` of `&[T]`) is written (call-site hygiene).
    pub sample_span: Span,
    pub output: syn::Type,
    pub cost: u32,
    pub init: Option<syn::Path>,
    /// `init = path(params)`.
    pub init_params: bool,
    /// The `#[out]` and `#[scratch]` parameters.
    pub buffers: super::buffers::Buffers,
}

pub fn check(attr: &StageArgs, func: &mut syn::ItemFn, errors: &mut Errors) -> Option<Model> {
    let sig = &func.sig;
    if let Some(a) = &sig.asyncness {
        errors.error(
            a,
            "a stage cannot be async: the engine calls stages synchronously, once per window (and again when it recomputes one)\n\nhelp: remove `async`; do I/O outside the pipeline and push the samples in",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.error(
            &sig.generics,
            "generic stages are not supported: the pipeline needs one concrete output type per stage\n\nhelp: write a concrete wrapper function and mark it #[stage]",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.error(v, "a stage cannot be variadic");
    }
    let fn_name = sig.ident.to_string();
    let Some((refs, list_span)) = &attr.inputs else {
        // When `inputs` was written but malformed or misspelled, that error says it all.
        if !attr.inputs_attempted {
            errors.span_error(
                Span::call_site(),
                "#[stage] needs `inputs = [...]`: the stages (or `input` for raw frames) whose outputs this function takes\n\nhelp: e.g. `#[stage(inputs = [input])]` for a stage that reads the raw frames",
            );
        }
        strip_param_attrs(func);
        return None;
    };

    let mut inputs = Vec::new();
    for r in refs {
        check_input(r, &fn_name, errors);
        let offset = r.offset.map_or(0, |(v, _)| v.unsigned_abs());
        inputs.push(Input {
            path: r.path.clone(),
            name: r.name(),
            offset,
            frames: r.is_frames(),
            span: r
                .path
                .to_token_stream()
                .into_iter()
                .next()
                .map_or_else(Span::call_site, |t| located_at(t.span())),
            ty: syn::parse_quote!(()),
        });
    }

    let mut args = Vec::new();
    let mut state = None;
    let mut params = None;
    let mut params_span = Span::call_site();
    let mut data_params = Vec::new();
    let mut buffers = super::buffers::Buffers::default();
    for input in sig.inputs.iter() {
        let pat = match input {
            syn::FnArg::Receiver(r) => {
                errors.error(r, "a stage is a free function: it cannot take `self`\n\nhelp: move it out of the impl block, or wrap the method in a free function");
                continue;
            }
            syn::FnArg::Typed(p) => p,
        };
        if super::buffers::is_buffer(pat) {
            super::buffers::param(pat, &mut buffers, &mut args, errors);
            continue;
        }
        let is_state = pat.attrs.iter().any(|a| a.path().is_ident("state"));
        let is_params = pat.attrs.iter().any(|a| a.path().is_ident("params"));
        if is_state {
            match &*pat.ty {
                syn::Type::Reference(r) if r.mutability.is_some() => {
                    if state.is_some() {
                        errors.error(pat, "a stage has at most one #[state] parameter");
                    }
                    state = Some((*r.elem).clone());
                    args.push(Arg::State);
                }
                other => errors.error(
                    other,
                    "a #[state] parameter is a mutable reference, e.g. `#[state] s: &mut Smoother`",
                ),
            }
        } else if is_params {
            match &*pat.ty {
                syn::Type::Reference(r) if r.mutability.is_none() => {
                    if params.is_some() {
                        errors.error(pat, "a stage has at most one #[params] parameter");
                    }
                    params = Some((*r.elem).clone());
                    params_span = located_at(syn::spanned::Spanned::span(&r.elem));
                    args.push(Arg::Params);
                }
                other => errors.error(other, "a #[params] parameter is a shared reference to the pipeline's parameter type, e.g. `#[params] p: &AudioParams`"),
            }
        } else {
            if let syn::Type::Reference(r) = &*pat.ty {
                if r.mutability.is_some() {
                    errors.error(
                        &pat.ty,
                        format!(
                            "state parameter without a state declaration: `{}` takes `{}`, but only a `#[state]`, `#[out]` or `#[scratch]` parameter may be `&mut`\n\nhelp: mark it as the stage's state (checkpoints snapshot it): `#[state] {}`; or, when it is the stage's output written in place, `#[out]` (and return `()`); or per-thread working memory, `#[scratch]`",
                            pretty(&pat.pat),
                            pretty(&pat.ty),
                            pretty(pat),
                        ),
                    );
                    continue;
                }
            }
            args.push(Arg::Input(data_params.len()));
            data_params.push(pat);
        }
    }

    if data_params.len() != inputs.len() {
        let msg = format!(
            "stage `{fn_name}` lists {} input{} but takes {} input parameter{}\n\nhelp: give the function one parameter per entry of `inputs`, in order (mark state `#[state]` and parameters `#[params]`)",
            inputs.len(),
            if inputs.len() == 1 { "" } else { "s" },
            data_params.len(),
            if data_params.len() == 1 { "" } else { "s" },
        );
        errors.span_error(*list_span, msg);
    }

    let mut sample = None;
    let mut sample_span = Span::call_site();
    for (input, p) in inputs.iter_mut().zip(&data_params) {
        input.ty = (*p.ty).clone();
        if input.frames {
            match frame_elem(&p.ty, input.offset > 0) {
                Some(t) => {
                    sample_span = located_at(syn::spanned::Spanned::span(&t));
                    sample = Some(t);
                }
                None => errors.error(
                    &p.ty,
                    if input.offset > 0 {
                        "a lookback of `input` is `Option<&[T]>` (None before the first window)"
                    } else {
                        "the `input` parameter is a frame of samples: `&[T]`"
                    },
                ),
            }
        } else if input.offset > 0 && !is_option(&p.ty) {
            let suggestion = match &*p.ty {
                syn::Type::Reference(r) if r.mutability.is_none() => {
                    format!("Option<{}>", pretty(r))
                }
                other => format!("Option<&{}>", pretty(other)),
            };
            errors.error(
                &p.ty,
                format!(
                    "a lookback input is `Option<&T>`: `{}[-{}]` is `None` for the first {}\n\nhelp: take it as `{}: {suggestion}`",
                    input.name,
                    input.offset,
                    if input.offset == 1 { "window".to_string() } else { format!("{} windows", input.offset) },
                    pretty(&p.pat),
                ),
            );
        }
    }

    check_param_order(refs, &inputs, &data_params, errors);
    for ((input, p), r) in inputs.iter().zip(&data_params).zip(refs) {
        // `a[0]` is reported by `check_input`.
        if !input.frames && r.offset.is_none() && is_option(&p.ty) {
            errors.error(
                &p.ty,
                format!(
                    "`{}` is read at the current window, which always exists, so the parameter is never `None`\n\nhelp: take `{}: {}`, or read the window before with a lookback: `{}[-1]` in `inputs`",
                    input.name,
                    pretty(&p.pat),
                    option_inner(&p.ty).map_or_else(|| "&T".to_string(), pretty),
                    input.name,
                ),
            );
        }
    }

    if state.is_none() {
        if let Some(init) = &attr.init {
            errors.error(
                init,
                "`init` sets the initial state, but the function has no `#[state]` parameter\n\nhelp: add a state parameter such as `#[state] s: &mut MyState`, or remove `init`",
            );
        }
    }

    if let (Some(span), None) = (attr.init_params, &params) {
        errors.push(syn::Error::new(
            span,
            "`init = f(params)` passes the pipeline's params to `f`, but the stage takes no `#[params]` parameter that says their type\n\nhelp: add a parameter such as `#[params] _p: &MyParams` (the pipeline's `params` type), or write `init = f` for an `f()` that takes nothing",
        ));
    }

    let output = match &sig.output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, t) => (**t).clone(),
    };
    match &buffers.out {
        Some((out, _)) => super::buffers::check_out_return(sig, out, errors),
        None if buffers.out_written => {}
        None => check_output(sig, &fn_name, errors),
    }
    let cost = attr
        .cost
        .as_ref()
        .and_then(|c| c.base10_parse().ok())
        .unwrap_or(1);
    strip_param_attrs(func);
    let init_params = attr.init_params.is_some() && params.is_some();
    Some(Model {
        inputs,
        args,
        state,
        params,
        params_span,
        sample,
        sample_span,
        output,
        cost,
        init: attr.init.clone(),
        init_params,
        buffers,
    })
}

fn check_input(r: &InputRef, fn_name: &str, errors: &mut Errors) {
    if r.path.is_ident(fn_name) {
        errors.error(
            &r.path,
            format!("stage `{fn_name}` cannot read its own output\n\nhelp: keep what it needs from earlier windows in a `#[state]` parameter"),
        );
    }
    if let Some((v, span)) = r.offset {
        if v >= 0 {
            errors.span_error(
                span,
                format!(
                    "lookback offsets must be negative: `{}[{v}]` would read {} window\n\nhelp: a stage may read the current window (`{0}`) or earlier ones (`{0}[-1]`), never future ones",
                    r.name(),
                    if v == 0 { "the current" } else { "a future" }
                ),
            );
        } else if -v > MAX_LOOKBACK {
            errors.span_error(
                span,
                format!(
                    "lookback of {} windows exceeds the maximum of {MAX_LOOKBACK}",
                    -v
                ),
            );
        }
    }
}

/// A stage's output is a value the engine caches, checkpoints and recomputes: `()` (a stage
/// run for its side effect) and references are rejected. Any other type, `Result<T, E>`
/// included, is left to the `Stage` impl.
fn check_output(sig: &syn::Signature, fn_name: &str, errors: &mut Errors) {
    const UNIT: &str = "a stage's output is what downstream stages and the pipeline read; the engine may run a stage several times for the same window (recomputation after eviction, replay from a checkpoint) or not at all (a cached output), so a side effect would run a mode-dependent number of times";
    match &sig.output {
        syn::ReturnType::Default => errors.span_error(
            sig.paren_token.span.close(),
            format!("stage `{fn_name}` returns nothing: {UNIT}\n\nhelp: return the value it computes (`-> f32`), and do side effects (printing, writing) on the pipeline's output, after `push` or `evaluate`"),
        ),
        syn::ReturnType::Type(_, t) => match &**t {
            syn::Type::Tuple(tup) if tup.elems.is_empty() => errors.error(
                t,
                format!("stage `{fn_name}` returns `()`: {UNIT}\n\nhelp: return the value it computes (`-> f32`), and do side effects (printing, writing) on the pipeline's output, after `push` or `evaluate`"),
            ),
            syn::Type::Reference(r) => errors.error(
                t,
                format!(
                    "stage `{fn_name}` returns a reference (`{}`): a stage's output is an owned value that the engine caches and hands to later windows, longer than any borrow of its inputs lives\n\nhelp: return `{}` (clone what you borrow, e.g. `x.clone()` or `x.to_vec()`)",
                    pretty(t),
                    owned(&r.elem),
                ),
            ),
            _ => {}
        },
    }
}

/// The owned counterpart of a borrowed type, for help lines: `[T]` -> `Vec<T>`, `str` ->
/// `String`, `T` -> `T`.
fn owned(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Slice(s) => format!("Vec<{}>", pretty(&s.elem)),
        syn::Type::Path(p) if p.path.is_ident("str") => "String".into(),
        other => pretty(other),
    }
}

/// Parameters named like the stage's inputs but in another order (`inputs = [peak, rms]`,
/// `fn crest(rms: &f32, peak: &f32)`) would be bound by position, silently swapped: an error,
/// with the `inputs` list reordered to match the parameters.
fn check_param_order(
    refs: &[InputRef],
    inputs: &[Input],
    params: &[&syn::PatType],
    errors: &mut Errors,
) {
    if params.len() != inputs.len() {
        return;
    }
    let name_of = |p: &syn::PatType| match &*p.pat {
        syn::Pat::Ident(i) => Some(i.ident.to_string()),
        _ => None,
    };
    let misplaced = params.iter().enumerate().find(|(i, p)| {
        name_of(p).is_some_and(|n| {
            inputs[*i].name != n && inputs.iter().any(|inp| inp.name == n && !inp.frames)
        })
    });
    let Some((i, p)) = misplaced else { return };
    // For each parameter, the first unused input of its name; the rest keep their order.
    let mut used = vec![false; inputs.len()];
    let mut order: Vec<Option<usize>> = params
        .iter()
        .map(|p| {
            let n = name_of(p)?;
            let j = (0..inputs.len()).find(|&j| !used[j] && inputs[j].name == n)?;
            used[j] = true;
            Some(j)
        })
        .collect();
    let mut rest = (0..inputs.len()).filter(|&j| !used[j]);
    for o in &mut order {
        if o.is_none() {
            *o = rest.next();
        }
    }
    let entry = |j: usize| {
        let r = &refs[j];
        match r.offset {
            Some((v, _)) => format!("{}[{v}]", pretty(&r.path)),
            None => pretty(&r.path),
        }
    };
    let reordered: Vec<String> = order.iter().flatten().map(|&j| entry(j)).collect();
    let name = name_of(p).unwrap_or_default();
    errors.error(
        &p.pat,
        format!(
            "parameter `{name}` is bound to input {} (`{}`), not to the input `{name}`: inputs are passed by position, in the order of `inputs`\n\nhelp: reorder `inputs` to match the parameters: `inputs = [{}]`",
            i + 1,
            entry(i),
            reordered.join(", "),
        ),
    );
}

/// `T` of `Option<T>`.
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    match a.args.first()? {
        syn::GenericArgument::Type(t) if seg.ident == "Option" => Some(t),
        _ => None,
    }
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// `T` of `&[T]` (or of `Option<&[T]>` for a lookback).
fn frame_elem(ty: &syn::Type, lookback: bool) -> Option<syn::Type> {
    let ty = if lookback {
        let syn::Type::Path(p) = ty else { return None };
        let seg = p.path.segments.last()?;
        let syn::PathArguments::AngleBracketed(a) = &seg.arguments else {
            return None;
        };
        match a.args.first()? {
            syn::GenericArgument::Type(t) if seg.ident == "Option" => t,
            _ => return None,
        }
    } else {
        ty
    };
    match ty {
        syn::Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            syn::Type::Slice(s) => Some((*s.elem).clone()),
            _ => None,
        },
        _ => None,
    }
}

fn strip_param_attrs(func: &mut syn::ItemFn) {
    for input in func.sig.inputs.iter_mut() {
        if let syn::FnArg::Typed(p) = input {
            p.attrs.retain(|a| {
                !["state", "params", "out", "scratch"]
                    .iter()
                    .any(|n| a.path().is_ident(n))
            });
        }
    }
}
