//! `#[stage]`: parse -> check -> expand.

mod buffers;
mod check;
pub mod context;
mod expand;
mod parse;

use proc_macro2::TokenStream;

/// `block`: the `impl` or `trait` block the function sits in, when [`context`] found one.
pub fn stage(args: TokenStream, item: TokenStream, block: Option<context::Block>) -> TokenStream {
    let mut errors = crate::errors::Errors::default();
    let mut func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            // Not a function: report it (what it is, what to write instead) and keep the item
            // so the editor keeps working.
            let e = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(other) => not_a_function(&other),
                Err(_) => syn::Error::new(
                    e.span(),
                    "#[stage] applies to a free function: `fn name(inputs...) -> Output`",
                ),
            };
            let mut out = item;
            out.extend(e.to_compile_error());
            return out;
        }
    };
    // In an impl or trait block, none of the generated module-level items may follow the
    // function: it stays as written, with one error that says what to write instead. A method
    // (`self`) keeps its own error from `check`.
    if let (Some(block), None) = (&block, func.sig.receiver()) {
        let mut out = item;
        out.extend(associated_fn(&func, block, &args).to_compile_error());
        return out;
    }
    let attr = parse::parse_args(args, &mut errors);
    let declared_out = buffers::declared_out(&func);
    let model = check::check(&attr, &mut func, &mut errors);
    // Inputs arrive as `&Output` of the upstream, so `&Vec<T>` parameters are the DSL's doing,
    // not the user's choice: silence clippy's `ptr_arg` on stage functions.
    func.attrs
        .push(syn::parse_quote!(#[allow(clippy::ptr_arg)]));
    match model {
        Some(model) if errors.is_empty() => expand::expand(&func, &model),
        _ => {
            let mut out = expand::fallback(
                &func,
                attr.inputs.as_ref().map(|(r, _)| &r[..]),
                declared_out.as_ref(),
            );
            out.extend(errors.into_compile_errors());
            out
        }
    }
}

/// The error for `#[stage]` on an associated function (no `self`) of an impl or trait block,
/// with a wrapper stage to write at module level.
fn associated_fn(func: &syn::ItemFn, block: &context::Block, args: &TokenStream) -> syn::Error {
    use crate::errors::pretty;
    let name = &func.sig.ident;
    let params = &func.sig.inputs;
    let args_used: Vec<String> = params
        .iter()
        .map(|p| match p {
            syn::FnArg::Typed(t) => match &*t.pat {
                syn::Pat::Ident(i) => i.ident.to_string(),
                other => pretty(other),
            },
            syn::FnArg::Receiver(_) => "self".into(),
        })
        .collect();
    let output = match &func.sig.output {
        syn::ReturnType::Type(_, t) => format!(" -> {}", pretty(t)),
        syn::ReturnType::Default => String::new(),
    };
    let attr = if args.is_empty() {
        "#[stage]".to_string()
    } else {
        format!("#[stage({})]", pretty(args))
    };
    let (what, wrap) = match block {
        context::Block::Impl(ty) => {
            let ty = ty.as_deref().unwrap_or("Type");
            (
                "an associated function of an `impl` block",
                format!(
                    "; to keep `{ty}::{name}`, wrap it: `{attr} fn {name}({}){output} {{ {ty}::{name}({}) }}`",
                    pretty(params),
                    args_used.join(", ")
                ),
            )
        }
        context::Block::Trait => ("a function of a `trait`", String::new()),
    };
    syn::Error::new(
        name.span(),
        format!(
            "#[stage] applies to a free function at module level, not to {what}\n\nhelp: move `{name}` out of the block to module level (a pipeline names it by path, `stages: [{name}]`){wrap}"
        ),
    )
}

/// The error for `#[stage]` on an item that is not a function, in terms of what to write.
fn not_a_function(item: &syn::Item) -> syn::Error {
    use quote::ToTokens;
    let (what, span, help): (&str, proc_macro2::TokenStream, String) = match item {
        syn::Item::Struct(s) => (
            "a struct",
            s.struct_token.to_token_stream(),
            format!("a stage is a function of its inputs: `#[stage(inputs = [...])] fn name(x: &X) -> Output`; to keep a `{0}` across windows, take it as the stage's state: `#[state] s: &mut {0}`", s.ident),
        ),
        syn::Item::Enum(e) => (
            "an enum",
            e.enum_token.to_token_stream(),
            format!("a stage is a function of its inputs: `#[stage(inputs = [...])] fn name(x: &X) -> Output`; a `{0}` can be its output (`-> {0}`) or its state (`#[state] s: &mut {0}`)", e.ident),
        ),
        syn::Item::Const(c) => (
            "a const",
            c.const_token.to_token_stream(),
            "a stage is a function of its inputs: `#[stage(inputs = [...])] fn name(x: &X) -> Output`; a value every window needs is a runtime parameter (`params:` in `pipeline!`, `#[params] p: &P` in the stage) or a plain `const` used in the stage's body".to_string(),
        ),
        syn::Item::Static(s) => (
            "a static",
            s.static_token.to_token_stream(),
            "a stage is a function of its inputs: `#[stage(inputs = [...])] fn name(x: &X) -> Output`; a value every window needs is a runtime parameter (`params:` in `pipeline!`, `#[params] p: &P` in the stage)".to_string(),
        ),
        syn::Item::Impl(i) => (
            "an impl block",
            i.impl_token.to_token_stream(),
            "put `#[stage]` on a free function; to use a method, wrap it: `#[stage(inputs = [...])] fn name(x: &X) -> Output { Type::method(x) }`".to_string(),
        ),
        syn::Item::Mod(m) => (
            "a module",
            m.mod_token.to_token_stream(),
            "put `#[stage]` on each stage function inside the module".to_string(),
        ),
        other => (
            "this item",
            other.to_token_stream().into_iter().take(1).collect(),
            "a stage is a function of its inputs: `#[stage(inputs = [...])] fn name(x: &X) -> Output`".to_string(),
        ),
    };
    syn::Error::new_spanned(
        span,
        format!("#[stage] applies to a free function, not to {what}\n\nhelp: {help}"),
    )
}
