//! The buffer-reuse parameters of a stage: `#[out] out: &mut O` (the output, written into a
//! recycled buffer) and `#[scratch] s: &mut S` (per-thread working memory, never checkpointed).

use super::check::Arg;
use crate::errors::{pretty, Errors};
use proc_macro2::Span;

/// What the `#[out]` and `#[scratch]` parameters of a stage declare.
#[derive(Default)]
pub struct Buffers {
    /// `O` of `#[out] out: &mut O`, with where it is written.
    pub out: Option<(syn::Type, Span)>,
    /// `S` of `#[scratch] s: &mut S`, with where it is written.
    pub scratch: Option<(syn::Type, Span)>,
    /// An `#[out]` parameter was written, even if malformed (its error is reported, so the
    /// return type is not also checked as that of a stage without `#[out]`).
    pub out_written: bool,
}

/// Whether `pat` is marked `#[out]` or `#[scratch]`.
pub fn is_buffer(pat: &syn::PatType) -> bool {
    pat.attrs
        .iter()
        .any(|a| a.path().is_ident("out") || a.path().is_ident("scratch"))
}

/// Records an `#[out]` or `#[scratch]` parameter (`is_buffer(pat)` holds), reporting misuse.
pub fn param(pat: &syn::PatType, bufs: &mut Buffers, args: &mut Vec<Arg>, errors: &mut Errors) {
    let marks: Vec<String> = pat
        .attrs
        .iter()
        .filter_map(|a| a.path().get_ident().map(ToString::to_string))
        .filter(|n| matches!(n.as_str(), "out" | "scratch" | "state" | "params"))
        .collect();
    if marks.len() > 1 {
        errors.error(
            pat,
            format!(
                "a parameter has one role, but this one is marked {}\n\nhelp: keep one of them: `#[out]` is the output buffer, `#[scratch]` per-thread working memory, `#[state]` the checkpointed state, `#[params]` the pipeline's parameters",
                marks.iter().map(|m| format!("`#[{m}]`")).collect::<Vec<_>>().join(" and ")
            ),
        );
        return;
    }
    let out = marks[0] == "out";
    bufs.out_written |= out;
    let elem = match &*pat.ty {
        syn::Type::Reference(r) if r.mutability.is_some() => (*r.elem).clone(),
        other => {
            let msg = if out {
                format!(
                    "an #[out] parameter is a mutable reference to the stage's output, which the stage fills: `#[out] {}: &mut {}`",
                    pretty(&pat.pat),
                    pretty(strip_ref(other)),
                )
            } else {
                format!(
                    "a #[scratch] parameter is a mutable reference to per-thread working memory: `#[scratch] {}: &mut {}`",
                    pretty(&pat.pat),
                    pretty(strip_ref(other)),
                )
            };
            errors.error(other, msg);
            return;
        }
    };
    let span = crate::errors::located_at(syn::spanned::Spanned::span(&elem));
    if out {
        if bufs.out.is_some() {
            errors.error(
                pat,
                "a stage has at most one #[out] parameter: it has one output\n\nhelp: to produce several values, make the output a struct or a tuple and fill its fields",
            );
            return;
        }
        bufs.out = Some((elem, span));
        args.push(Arg::Out);
    } else {
        if bufs.scratch.is_some() {
            errors.error(
                pat,
                "a stage has at most one #[scratch] parameter\n\nhelp: put the temporaries in one struct (`#[derive(Default)] struct Scratch { .. }`)",
            );
            return;
        }
        bufs.scratch = Some((elem, span));
        args.push(Arg::Scratch);
    }
}

fn strip_ref(ty: &syn::Type) -> &syn::Type {
    match ty {
        syn::Type::Reference(r) => &r.elem,
        other => other,
    }
}

/// With an `#[out]` parameter the output is written there: the function returns `()` (or
/// `Result<(), E>` when it can fail). Reports any other return type.
pub fn check_out_return(sig: &syn::Signature, out: &syn::Type, errors: &mut Errors) {
    let syn::ReturnType::Type(_, t) = &sig.output else {
        return;
    };
    if is_unit(t) {
        return;
    }
    if let Some(ok) = super::expand::fallible_output(t) {
        if is_unit(ok) {
            return;
        }
        errors.error(
            ok,
            format!(
                "a stage with an #[out] parameter writes its output into it, so it returns `Result<(), E>` when it can fail, not `Result<{}, E>`\n\nhelp: return `Ok(())` after filling the buffer (its output type is `{}`), or drop `#[out]` and return the value",
                pretty(ok),
                pretty(out),
            ),
        );
        return;
    }
    errors.error(
        t,
        format!(
            "a stage with an #[out] parameter writes its output (`{}`) into it and returns nothing, but this one also returns `{}`\n\nhelp: remove `-> {}` (or return `Result<(), E>` when it can fail), or drop `#[out]` and return the value",
            pretty(out),
            pretty(t),
            pretty(t),
        ),
    );
}

fn is_unit(t: &syn::Type) -> bool {
    matches!(t, syn::Type::Tuple(tup) if tup.elems.is_empty())
}

/// `O` of an `#[out] o: &mut O` parameter of `func`, read before the checks (for the fallback
/// expansion's output type, so that stages downstream of a stage with errors report nothing).
pub fn declared_out(func: &syn::ItemFn) -> Option<syn::Type> {
    func.sig.inputs.iter().find_map(|a| match a {
        syn::FnArg::Typed(p) if p.attrs.iter().any(|a| a.path().is_ident("out")) => match &*p.ty {
            syn::Type::Reference(r) => Some((*r.elem).clone()),
            other => Some(other.clone()),
        },
        _ => None,
    })
}
