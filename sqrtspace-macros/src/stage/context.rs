//! Where a `#[stage]` function sits: at module level (or in a function body), or inside an
//! `impl` or `trait` block.
//!
//! An attribute macro sees only the item it is on, so it cannot tell an associated function
//! from a free one, and the module-level items a stage generates (its marker type, impls) are
//! each a separate error in an impl block. To report one error instead, [`enclosing_block`]
//! reads the function's own source file (the one rustc compiles, named by the span of the
//! function's name) and scans it, with a small lexer that skips comments, strings and
//! character literals, for the innermost `{ ... }` around the function's name: an `impl` or
//! `trait` block when the item that opens it starts with the keyword `impl` or `trait`.
//!
//! Whenever this cannot be decided (no source file, as for code from another macro or some
//! IDE servers; a name that is not at the span's position), the answer is `None` and the
//! stage expands as at module level, so a misreading can only cost the one-error message,
//! never reject a free function.

/// The block that holds an associated function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// An `impl` block, with its self type as written when it is a plain path (`Dsp`).
    Impl(Option<String>),
    /// A `trait` block.
    Trait,
}

/// The `impl` or `trait` block around the function `item` (the attribute's input), if any.
pub fn enclosing_block(item: &proc_macro::TokenStream) -> Option<Block> {
    let mut tokens = item.clone().into_iter();
    // The name: the identifier after `fn`, outside any group.
    let name = loop {
        match tokens.next()? {
            proc_macro::TokenTree::Ident(i) if i.to_string() == "fn" => match tokens.next()? {
                proc_macro::TokenTree::Ident(n) => break n,
                _ => return None,
            },
            _ => {}
        }
    };
    let span = name.span();
    // A function whose first line starts at column 1 is not inside any block.
    if item.clone().into_iter().next()?.span().column() <= 1 {
        return None;
    }
    let file = span.local_file()?;
    let source = std::fs::read_to_string(file).ok()?;
    let offset = offset_of(&source, span.line(), span.column())?;
    let name = name.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let rest = &source[offset..];
    if !rest.starts_with(name) || rest[name.len()..].starts_with(is_ident_char) {
        return None;
    }
    innermost_block(&source, offset)
}

/// The byte offset of (1-based) `line` and `column` (in characters) in `source`.
fn offset_of(source: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = source
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let text = source.get(start..)?;
    let col = text
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map(|(i, _)| i)?;
    Some(start + col)
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// What an open delimiter opened.
enum Open {
    /// `(` or `[`.
    Group,
    /// `{` of an item that starts with `impl` (its header text) or `trait`, or any other `{`.
    Brace(Option<Block>),
}

/// Scans `source` up to `target` and returns the block kind of the innermost open `{`.
fn innermost_block(source: &str, target: usize) -> Option<Block> {
    let bytes = source.as_bytes();
    let mut stack: Vec<Open> = Vec::new();
    // At the start of an item (or statement) at the current brace level.
    let mut item_start = true;
    // The kind of the current item, fixed by its first keyword; `header` is where it started.
    let mut kind: Option<Block> = None;
    let mut header = 0;
    let mut i = 0;
    let in_brace = |stack: &Vec<Open>| !matches!(stack.last(), Some(Open::Group));
    while i < target.min(bytes.len()) {
        let c = bytes[i];
        match c {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => {
                i = skip_string(bytes, i + 1);
                item_start = false;
            }
            b'\'' => {
                i = skip_char_or_lifetime(bytes, i);
                item_start = false;
            }
            b'(' | b'[' => {
                stack.push(Open::Group);
                i += 1;
            }
            b')' | b']' => {
                stack.pop();
                i += 1;
            }
            b'{' => {
                let block = if in_brace(&stack) {
                    match kind.take() {
                        Some(Block::Impl(_)) => Some(Block::Impl(self_type(&source[header..i]))),
                        other => other,
                    }
                } else {
                    None
                };
                stack.push(Open::Brace(block));
                item_start = true;
                i += 1;
            }
            b'}' => {
                stack.pop();
                item_start = true;
                kind = None;
                i += 1;
            }
            b';' if in_brace(&stack) => {
                item_start = true;
                kind = None;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric() || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &source[start..i];
                // String and character literals with a prefix: `r"..."`, `br#"..."#`, `b'x'`.
                let hashes = bytes[i..].iter().take_while(|&&b| b == b'#').count();
                if matches!(word, "r" | "br" | "cr") && bytes.get(i + hashes) == Some(&b'"') {
                    i = skip_raw_string(bytes, i + hashes + 1, hashes);
                } else if matches!(word, "b" | "c") && bytes.get(i) == Some(&b'"') {
                    i = skip_string(bytes, i + 1);
                } else if word == "b" && bytes.get(i) == Some(&b'\'') {
                    i = skip_char_or_lifetime(bytes, i);
                } else if item_start && in_brace(&stack) {
                    match word {
                        "pub" | "unsafe" | "default" | "auto" => {}
                        "impl" => {
                            kind = Some(Block::Impl(None));
                            header = start;
                            item_start = false;
                        }
                        "trait" => {
                            kind = Some(Block::Trait);
                            item_start = false;
                        }
                        _ => item_start = false,
                    }
                }
            }
            // Attributes keep the item at its start: `#[...]`, `#![...]`.
            b'#' | b'!' => i += 1,
            _ => {
                if in_brace(&stack) {
                    item_start = false;
                }
                i += 1;
            }
        }
    }
    match stack.last() {
        Some(Open::Brace(block)) => block.clone(),
        _ => None,
    }
}

/// Past the end of a string literal whose text starts at `i` (after the opening quote).
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Past the end of a raw string literal whose text starts at `i`, opened with `hashes` `#`.
fn skip_raw_string(bytes: &[u8], mut i: usize, hashes: usize) -> usize {
    while i < bytes.len() {
        if bytes[i] == b'"' && bytes[i + 1..].iter().take_while(|&&b| b == b'#').count() >= hashes {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// Past a character literal (`'x'`, `'\n'`, `'é'`) or a lifetime or label (`'a`) at `i`.
fn skip_char_or_lifetime(bytes: &[u8], i: usize) -> usize {
    if bytes.get(i + 1) == Some(&b'\\') {
        let mut j = i + 3;
        while j < bytes.len() && bytes[j] != b'\'' {
            j += 1;
        }
        return j + 1;
    }
    // One character (up to 4 bytes in UTF-8) followed by a quote is a character literal.
    let len = match bytes.get(i + 1) {
        Some(&b) if b < 0x80 => 1,
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(_) => 2,
        None => return i + 1,
    };
    if bytes.get(i + 1 + len) == Some(&b'\'') {
        return i + 2 + len;
    }
    let mut j = i + 1;
    while j < bytes.len()
        && (bytes[j] == b'_' || bytes[j].is_ascii_alphanumeric() || bytes[j] >= 0x80)
    {
        j += 1;
    }
    j
}

/// The self type of an `impl` header (`impl<T> Trait for Dsp<T> where ...`) when it is a
/// plain path: the text after `for` (or after `impl` and its generics), before `where`.
fn self_type(header: &str) -> Option<String> {
    let header = header.split(" where").next()?.trim();
    let ty = match header.rsplit_once(" for ") {
        Some((_, ty)) => ty,
        None => {
            let rest = header.strip_prefix("impl")?.trim_start();
            if let Some(generics) = rest.strip_prefix('<') {
                let mut depth = 1usize;
                let close = generics.char_indices().find(|&(_, c)| {
                    match c {
                        '<' => depth += 1,
                        '>' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })?;
                &generics[close.0 + 1..]
            } else {
                rest
            }
        }
    };
    let ty = ty.trim();
    let plain = !ty.is_empty()
        && ty.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '_' | ':' | '<' | '>' | ',' | ' ' | '&' | '\'')
        });
    plain.then(|| ty.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &str, marker: &str) -> Option<Block> {
        innermost_block(source, source.find(marker).unwrap())
    }

    #[test]
    fn blocks() {
        let s = "struct D;\nimpl D {\n    #[stage(inputs = [input])]\n    fn energy(f: &[f32]) -> f32 { 0.0 }\n}\n";
        assert_eq!(at(s, "energy"), Some(Block::Impl(Some("D".into()))));
        let s = "impl<T: Clone> Tr for Dsp<T> where T: Copy {\n    fn energy() {}\n}";
        assert_eq!(at(s, "energy"), Some(Block::Impl(Some("Dsp<T>".into()))));
        let s = "pub unsafe trait Tr {\n    fn energy();\n}";
        assert_eq!(at(s, "energy"), Some(Block::Trait));
        // A free function, after items with braces, strings and comments that contain braces.
        let s = "fn f() -> impl Fn() { || {} }\n// impl X {\nconst S: &str = \"impl X {\";\nconst R: &str = r#\"{\"#;\nconst C: char = '{';\nfn g<'a>(x: &'a u8) {}\n/* { /* } */ */\n#[stage]\nfn energy() {}";
        assert_eq!(at(s, "energy"), None);
        // Inside a function body inside an impl: a free function in a block.
        let s = "impl D {\n    fn m() {\n        fn energy() {}\n    }\n}";
        assert_eq!(at(s, "energy"), None);
        let s = "mod m {\n    fn energy() {}\n}";
        assert_eq!(at(s, "energy"), None);
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_of("ab\ncdé f", 2, 5), Some(8));
        assert_eq!(offset_of("ab", 3, 1), None);
    }
}
