//! Exact byte accounting for cached outputs and checkpointed state.
//!
//! The LRU and the checkpoint ring charge each entry [`ByteSize::byte_size`] (the inline size of
//! the value, `size_of::<T>()`, plus the heap bytes it owns; heap bytes count *capacity*, not
//! length, because capacity is what the allocator handed out) **plus the engine's own bytes
//! for the entry**: see [`ByteSize`].

use num_complex::Complex;

/// Bytes a value occupies: its inline size plus the heap memory it owns.
///
/// # What the budgets charge
/// A byte budget is only honest if it counts everything an entry keeps alive. Besides
/// `byte_size()` of the value, the engine charges each entry the bytes of its own
/// bookkeeping, at the worst fill of the containers (hash tables just after doubling, a
/// `Vec`/`VecDeque` at half capacity, B-tree nodes half full):
///
/// - an LRU entry: [`lru_entry_overhead`](crate::cache::lru_entry_overhead)`(size_of::<T>())`,
///   the list node (48 bytes, twice), the index entry `(stage, window) -> node` and the stage
///   slot's map entry `window -> output`: 192 bytes for an `f32` output (48 times the
///   value), 200 for a `Vec<f32>` (plus its heap);
/// - a checkpoint or output snapshot in the checkpoint rings:
///   [`ring_entry_overhead`](crate::cache::ring_entry_overhead)`(size_of::<T>())`: 104 bytes
///   plus the inline size once more.
///
/// Measured: with these charges, the process's peak RSS growth stays within the LRU and
/// checkpoint budgets plus a fixed allowance, and within 2x of the engine's live-bytes
/// counter (`tests/memory_rss.rs`). Before, a hop-1 scalar pipeline with a 64 MiB LRU
/// reached about 40 times its counter.
///
/// Implemented for scalars, [`Complex`], `Vec`, slices (`[T]`: the heap its elements own),
/// `Box<[T]>`, `Box<T>`, `String`, arrays, tuples, `Option`,
/// `VecDeque` and (with the `ndarray` feature) `ndarray::Array`. For a user type, implement
/// [`heap_bytes`](ByteSize::heap_bytes) when it owns heap memory; a type that owns none can use
/// the default (`impl ByteSize for MyState {}`).
///
/// # Example
/// ```
/// use sqrtspace::ByteSize;
/// let v: Vec<f32> = Vec::with_capacity(10);
/// assert_eq!(v.byte_size(), std::mem::size_of::<Vec<f32>>() + 10 * 4);
/// ```
pub trait ByteSize {
    /// Heap bytes owned by this value (0 for plain data). Counts capacity, not length.
    fn heap_bytes(&self) -> usize {
        0
    }

    /// Total bytes: `size_of_val(self) + heap_bytes()`.
    fn byte_size(&self) -> usize
    where
        Self: Sized,
    {
        std::mem::size_of::<Self>() + self.heap_bytes()
    }
}

macro_rules! plain {
    ($($t:ty),*) => { $(impl ByteSize for $t {})* };
}
plain!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    ()
);

impl<T: ByteSize> ByteSize for Complex<T> {}

impl<T: ByteSize> ByteSize for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + <[T]>::heap_bytes(self)
    }
}

/// A slice in place: the heap memory its elements own (its own elements are inline, counted by
/// whoever holds the slice: [`Vec`], [`Box<[T]>`], an array).
impl<T: ByteSize> ByteSize for [T] {
    fn heap_bytes(&self) -> usize {
        self.iter().map(T::heap_bytes).sum()
    }
}

impl<T: ByteSize> ByteSize for Box<[T]> {
    fn heap_bytes(&self) -> usize {
        std::mem::size_of_val::<[T]>(self) + <[T]>::heap_bytes(self)
    }
}

impl<T: ByteSize> ByteSize for Box<T> {
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<T>() + T::heap_bytes(self)
    }
}

impl ByteSize for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl<T: ByteSize, const N: usize> ByteSize for [T; N] {
    fn heap_bytes(&self) -> usize {
        <[T]>::heap_bytes(self)
    }
}

impl<T: ByteSize> ByteSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, T::heap_bytes)
    }
}

impl<T: ByteSize> ByteSize for std::collections::VecDeque<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(T::heap_bytes).sum::<usize>()
    }
}

macro_rules! tuple {
    ($($n:tt $t:ident),+) => {
        impl<$($t: ByteSize),+> ByteSize for ($($t,)+) {
            fn heap_bytes(&self) -> usize { 0 $(+ self.$n.heap_bytes())+ }
        }
    };
}
tuple!(0 A);
tuple!(0 A, 1 B);
tuple!(0 A, 1 B, 2 C);
tuple!(0 A, 1 B, 2 C, 3 D);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);

#[cfg(feature = "ndarray")]
impl<T: ByteSize, D: ndarray::Dimension> ByteSize for ndarray::Array<T, D> {
    fn heap_bytes(&self) -> usize {
        // An owned array's buffer holds exactly `len()` elements (ndarray allocates by shape).
        self.len() * std::mem::size_of::<T>() + self.iter().map(T::heap_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn vec_counts_capacity_and_nested_heap() {
        let mut v: Vec<Vec<u8>> = Vec::with_capacity(4);
        v.push(Vec::with_capacity(100));
        let expected = size_of::<Vec<Vec<u8>>>() + 4 * size_of::<Vec<u8>>() + 100;
        assert_eq!(v.byte_size(), expected);
    }

    #[test]
    fn complex_tuple_option_array() {
        assert_eq!(Complex::new(1.0f32, 2.0).byte_size(), 8);
        assert_eq!((1u8, 2u64).byte_size(), size_of::<(u8, u64)>());
        let o: Option<Vec<f64>> = Some(Vec::with_capacity(3));
        assert_eq!(o.byte_size(), size_of::<Option<Vec<f64>>>() + 24);
        let a = [String::with_capacity(5), String::with_capacity(7)];
        assert_eq!(a.byte_size(), 2 * size_of::<String>() + 12);
        let b: Box<[f32]> = vec![0.0; 6].into_boxed_slice();
        assert_eq!(b.byte_size(), size_of::<Box<[f32]>>() + 24);
        let nested: &[Vec<u8>] = &[Vec::with_capacity(3), Vec::with_capacity(5)];
        assert_eq!(<[Vec<u8>]>::heap_bytes(nested), 8, "the elements' heap");
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn ndarray_counts_its_elements() {
        // frames x bins
        let a = ndarray::Array2::<Complex<f32>>::zeros((3, 5));
        assert_eq!(
            a.byte_size(),
            size_of::<ndarray::Array2<Complex<f32>>>() + 15 * 8
        );
        let v = ndarray::Array1::from_elem(2, vec![0u8; 4]);
        assert_eq!(
            v.byte_size(),
            size_of::<ndarray::Array1<Vec<u8>>>() + 2 * (size_of::<Vec<u8>>() + 4)
        );
    }
}
