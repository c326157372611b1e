//! Syntax of `#[stage(...)]`: `inputs = [a, b[-1], input]`, `cost = N`, `init = path` or
//! `init = path(params)`.

use crate::errors::{did_you_mean, Errors};
use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, Token};

pub const KEYS: [&str; 3] = ["inputs", "cost", "init"];

/// One entry of `inputs`: a stage path (or `input`) with an optional `[-n]` lookback.
pub struct InputRef {
    pub path: syn::Path,
    /// The literal offset as written (`-1` -> -1); `None` for no brackets.
    pub offset: Option<(i64, Span)>,
}

impl InputRef {
    pub fn is_frames(&self) -> bool {
        self.path.is_ident("input")
    }
    pub fn name(&self) -> String {
        self.path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default()
    }
}

impl Parse for InputRef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let path: syn::Path = input.parse()?;
        let offset = if input.peek(syn::token::Bracket) {
            let content;
            bracketed!(content in input);
            if content.peek(Token![+]) {
                let plus: Token![+] = content.parse()?;
                let name = path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                let rest: proc_macro2::TokenStream = content.parse()?;
                return Err(syn::Error::new(
                    plus.span,
                    format!(
                        "a lookback reads an earlier window: `{name}[+{}]` would read a future one, which the engine has not computed when this window runs (push mode has not even received its samples)\n\nhelp: read the current window (`{name}`) or an earlier one (`{name}[-1]`); to compare with a later window, let the later window's stage read this one with a lookback",
                        rest
                    ),
                ));
            }
            let expr: syn::Expr = content.parse()?;
            let span = syn::spanned::Spanned::span(&expr);
            if let syn::Expr::Range(r) = &expr {
                let name = path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                let n = r
                    .start
                    .as_deref()
                    .and_then(|e| match e {
                        syn::Expr::Unary(u) => lit_int(&u.expr),
                        other => lit_int(other),
                    })
                    .unwrap_or(60);
                return Err(syn::Error::new(
                    span,
                    format!(
                        "a lookback reads one earlier window (`{name}[-1]`), not a range of windows: a range would pin up to {n} outputs of `{name}` in the cache for every window\n\nhelp: keep the last {n} values in the stage's state and push the current one each window:\n\n    #[stage(inputs = [{name}])]\n    fn rolling(x: &f32, #[state] last: &mut std::collections::VecDeque<f32>) -> f32 {{\n        if last.len() == {n} {{ last.pop_front(); }}\n        last.push_back(*x);\n        last.iter().sum::<f32>() / last.len() as f32\n    }}\n\n(the state is checkpointed and replayed like any other, so the result is the same in every mode)"
                    ),
                ));
            }
            let value = match &expr {
                syn::Expr::Unary(syn::ExprUnary {
                    op: syn::UnOp::Neg(_),
                    expr,
                    ..
                }) => lit_int(expr).map(|v| -v),
                other => lit_int(other),
            };
            match value {
                Some(v) => Some((v, span)),
                None => {
                    return Err(syn::Error::new(
                        span,
                        "a lookback offset is a negative integer literal, e.g. `spectrum[-1]`",
                    ))
                }
            }
        } else {
            None
        };
        Ok(InputRef { path, offset })
    }
}

fn lit_int(e: &syn::Expr) -> Option<i64> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse().ok(),
        _ => None,
    }
}

#[derive(Default)]
pub struct StageArgs {
    pub inputs: Option<(Vec<InputRef>, Span)>,
    pub cost: Option<syn::LitInt>,
    pub init: Option<syn::Path>,
    /// `init = path(params)`: the init function takes the pipeline's params (`fn(&P) -> S`).
    pub init_params: Option<Span>,
    /// An `inputs` entry was written, even if malformed or misspelled (its error is already
    /// reported, so check must not add "needs `inputs`").
    pub inputs_attempted: bool,
}

struct RawArg {
    key: syn::Ident,
    value: TokenStream,
}

impl Parse for RawArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: syn::Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let mut value = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) {
            let tt: proc_macro2::TokenTree = input.parse()?;
            value.extend([tt]);
        }
        Ok(RawArg { key, value })
    }
}

pub fn parse_args(args: TokenStream, errors: &mut Errors) -> StageArgs {
    let mut out = StageArgs::default();
    let raw = match syn::parse::Parser::parse2(
        Punctuated::<RawArg, Token![,]>::parse_terminated,
        args,
    ) {
        Ok(r) => r,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("malformed #[stage] attribute: {e}\n\nhelp: the syntax is `#[stage(inputs = [a, b[-1]], cost = 10, init = path)]`"),
            ));
            out.inputs_attempted = true;
            return out;
        }
    };
    for arg in raw {
        let key = arg.key.to_string();
        match key.as_str() {
            "inputs" => {
                out.inputs_attempted = true;
                let span = syn::spanned::Spanned::span(&arg.value);
                let parsed = syn::parse::Parser::parse2(
                    |s: ParseStream| {
                        let content;
                        bracketed!(content in s);
                        Punctuated::<InputRef, Token![,]>::parse_terminated(&content)
                    },
                    arg.value,
                );
                match parsed {
                    Ok(list) => out.inputs = Some((list.into_iter().collect(), span)),
                    // The lookback errors of `InputRef::parse` say all there is to say.
                    Err(e) if e.to_string().starts_with("a lookback") => errors.push(e),
                    Err(e) => errors.push(syn::Error::new(
                        e.span(),
                        format!("malformed `inputs`: {e}\n\nhelp: `inputs` is a bracketed list of stages (`input` for the raw frames), e.g. `inputs = [input, spectrum, spectrum[-1]]`"),
                    )),
                }
            }
            "cost" => match syn::parse2::<syn::LitInt>(arg.value) {
                Ok(l) if l.base10_parse::<u32>().is_ok() => out.cost = Some(l),
                Ok(l) => errors.error(l, "`cost` is a relative cost hint between 0 and 4294967295"),
                Err(e) => errors.push(syn::Error::new(e.span(), "`cost` takes an integer literal, e.g. `cost = 10`")),
            },
            "init" => match syn::parse2::<syn::Expr>(arg.value) {
                Ok(syn::Expr::Path(p)) if p.qself.is_none() => out.init = Some(p.path),
                Ok(syn::Expr::Call(c))
                    if c.args.len() == 1
                        && matches!(&c.args[0], syn::Expr::Path(a) if a.path.is_ident("params"))
                        && matches!(&*c.func, syn::Expr::Path(f) if f.qself.is_none()) =>
                {
                    let syn::Expr::Path(f) = *c.func else { unreachable!() };
                    out.init_params = Some(syn::spanned::Spanned::span(&c.args[0]));
                    out.init = Some(f.path);
                }
                Ok(other) => errors.error(
                    other,
                    "`init` takes the path of a function returning the initial state, `init = Smoother::new` (`fn() -> S`), or that path called with the pipeline's params, `init = Smoother::from_params(params)` (`fn(&P) -> S`)",
                ),
                Err(e) => errors.push(syn::Error::new(
                    e.span(),
                    "`init` takes the path of a function returning the initial state, `init = Smoother::new` (`fn() -> S`), or that path called with the pipeline's params, `init = Smoother::from_params(params)` (`fn(&P) -> S`)",
                )),
            },
            other => {
                let suggestion = did_you_mean(other, KEYS);
                if suggestion == Some("inputs") {
                    out.inputs_attempted = true;
                }
                let msg = match suggestion {
                    Some(k) => format!("unknown key `{other}` in #[stage]\n\nhelp: did you mean `{k}`?"),
                    None => format!("unknown key `{other}` in #[stage]\n\nhelp: the keys are `inputs`, `cost` and `init`"),
                };
                errors.error(&arg.key, msg);
            }
        }
    }
    out
}
