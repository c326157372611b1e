//! Exact byte accounting for cached outputs and checkpointed state.
//!
//! The LRU and the checkpoint ring charge each entry [`ByteSize::byte_size`] (the inline size of
//! the value, `size_of::<T>()`, plus the heap bytes it owns; heap bytes count *capacity*, not
//! length, because capacity is what the allocator handed out) **plus the engine's own bytes
//! for the entry**: see [`ByteSize`].

use num_complex::Complex;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// `#[derive(ByteSize)]` for structs and enums: [`ByteSize::heap_bytes`] is the sum of the
/// fields' heap bytes (generic parameters get a `ByteSize` bound).
pub use sqrtspace_macros::ByteSize;

/// Bytes a value occupies: its inline size plus the heap memory it owns.
///
/// The engine charges every cached output and every checkpointed state this many bytes
/// against the memory budget, so every stage output and state type implements it.
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
/// `Box<[T]>`, `Box<T>`, `String`, arrays, tuples (up to 8 elements), `Option`, `VecDeque`,
/// `HashMap`, `HashSet`, `BTreeMap`, `BTreeSet` and (with the `ndarray` feature)
/// `ndarray::Array`. For a user type, `#[derive(ByteSize)]` (structs and enums: the sum of the
/// fields' heap bytes), or implement [`heap_bytes`](ByteSize::heap_bytes) by hand; a type
/// that owns no heap memory can use the default (`impl ByteSize for MyState {}`).
///
/// The hash and B-tree collections expose no allocation size, so theirs is computed from the
/// layout of the standard library's implementations (see each impl): exact for `HashMap` and
/// `HashSet` on x86-64 (one allocation of buckets and control bytes; the trailing control group
/// is 16 bytes there, 8 on some other targets), an estimate within a factor of two
/// for `BTreeMap` and `BTreeSet` (nodes between half and fully occupied).
///
/// # Example
/// ```
/// use sqrtspace::ByteSize;
/// let v: Vec<f32> = Vec::with_capacity(10);
/// assert_eq!(v.byte_size(), std::mem::size_of::<Vec<f32>>() + 10 * 4);
///
/// #[derive(ByteSize)]
/// struct Smoother {
///     level: f32,
///     history: Vec<f32>,
/// }
/// let s = Smoother { level: 0.0, history: Vec::with_capacity(8) };
/// assert_eq!(s.byte_size(), std::mem::size_of::<Smoother>() + 8 * 4);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `sqrtspace::ByteSize`, which the engine needs to count the bytes of cached outputs and checkpointed state against the memory budget",
    label = "`{Self}` is not `ByteSize`",
    note = "add `#[derive(sqrtspace::ByteSize)]` to `{Self}` (structs and enums: the sum of the fields' heap bytes), or write `impl sqrtspace::ByteSize for {Self} {{}}` when it owns no heap memory"
)]
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
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);

/// Bytes of the one allocation of a SwissTable (`std`'s `HashMap`/`HashSet`, hashbrown) with
/// usable capacity `capacity` and entries of `entry` bytes: `buckets` entries plus one control
/// byte per bucket and a trailing group of 16 control bytes. `buckets` is a power of two
/// whose usable capacity is `buckets - 1` below 8 buckets and `buckets * 7 / 8` from 8 on
/// (hashbrown's `bucket_mask_to_capacity`), so it is recovered exactly from `capacity()`.
fn swiss_table_bytes(capacity: usize, entry: usize) -> usize {
    const GROUP_WIDTH: usize = 16;
    let buckets = match capacity {
        0 => return 0,
        1..=3 => 4,
        4..=7 => 8,
        c => (c / 7 * 8).next_power_of_two(),
    };
    buckets * entry + buckets + GROUP_WIDTH
}

/// Buckets and control bytes from `capacity()` (see `swiss_table_bytes`), plus the heap
/// bytes of keys and values.
impl<K: ByteSize, V: ByteSize, S> ByteSize for HashMap<K, V, S> {
    fn heap_bytes(&self) -> usize {
        swiss_table_bytes(self.capacity(), std::mem::size_of::<(K, V)>())
            + self
                .iter()
                .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
                .sum::<usize>()
    }
}

/// As for `HashMap<T, ()>`.
impl<T: ByteSize, S> ByteSize for HashSet<T, S> {
    fn heap_bytes(&self) -> usize {
        swiss_table_bytes(self.capacity(), std::mem::size_of::<T>())
            + self.iter().map(T::heap_bytes).sum::<usize>()
    }
}

/// Estimated bytes of the nodes of a B-tree (`std`'s `BTreeMap`, B = 6) holding `len`
/// entries of `key` + `value` bytes: a node holds up to 11 entries; counted as `len / 6`
/// nodes (rounded up; nodes are between half and fully occupied), each 11 entries plus its
/// parent pointer and lengths (16 bytes). Internal nodes' edge arrays are left out (fewer
/// than one in six nodes).
fn btree_bytes(len: usize, key: usize, value: usize) -> usize {
    const CAPACITY: usize = 11;
    const HEADER: usize = 16;
    len.div_ceil(6) * (CAPACITY * (key + value) + HEADER)
}

/// An estimate (see `btree_bytes`), plus the heap bytes of keys and values.
impl<K: ByteSize, V: ByteSize> ByteSize for BTreeMap<K, V> {
    fn heap_bytes(&self) -> usize {
        btree_bytes(
            self.len(),
            std::mem::size_of::<K>(),
            std::mem::size_of::<V>(),
        ) + self
            .iter()
            .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
            .sum::<usize>()
    }
}

/// As for `BTreeMap<T, ()>`.
impl<T: ByteSize> ByteSize for BTreeSet<T> {
    fn heap_bytes(&self) -> usize {
        btree_bytes(self.len(), std::mem::size_of::<T>(), 0)
            + self.iter().map(T::heap_bytes).sum::<usize>()
    }
}

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

    #[test]
    fn hash_map_counts_buckets_control_bytes_and_heap() {
        let mut m: HashMap<u32, Vec<u8>> = HashMap::with_capacity(100);
        m.insert(1, Vec::with_capacity(10));
        // capacity 112 = 128 buckets * 7/8
        assert_eq!(m.capacity(), 112);
        let entry = size_of::<(u32, Vec<u8>)>();
        assert_eq!(m.heap_bytes(), 128 * entry + 128 + 16 + 10);
        let small: HashSet<u8> = HashSet::with_capacity(3);
        // hashbrown gives tables of small entries at least a group's worth of buckets:
        // capacity 14 = 16 buckets * 7/8.
        assert_eq!(small.capacity(), 14);
        assert_eq!(small.heap_bytes(), 16 + 16 + 16);
        assert_eq!(HashMap::<u8, u8>::new().heap_bytes(), 0);
    }

    #[test]
    fn btree_and_big_tuples() {
        let m: BTreeMap<u64, u64> = (0..12).map(|i| (i, i)).collect();
        assert_eq!(m.heap_bytes(), 2 * (11 * 16 + 16));
        assert_eq!(BTreeSet::<u8>::new().heap_bytes(), 0);
        let t = (0u8, 1u8, 2u8, 3u8, 4u8, 5u8, 6u8, String::with_capacity(9));
        assert_eq!(t.heap_bytes(), 9);
    }

    #[derive(ByteSize)]
    struct Named {
        _a: f32,
        b: Vec<f64>,
    }

    #[derive(ByteSize)]
    struct Tuple<T>(T, String);

    #[derive(ByteSize)]
    enum Shape {
        Empty,
        Points(Vec<u16>),
        Named { label: String, _w: u8 },
    }

    #[test]
    fn derive_sums_the_fields_heap_bytes() {
        let n = Named {
            _a: 0.0,
            b: Vec::with_capacity(3),
        };
        assert_eq!(n.byte_size(), size_of::<Named>() + 24);
        let t = Tuple(vec![0u8; 5], String::with_capacity(2));
        assert_eq!(t.heap_bytes(), 5 + 2);
        assert_eq!(Shape::Empty.heap_bytes(), 0);
        assert_eq!(Shape::Points(Vec::with_capacity(4)).heap_bytes(), 8);
        let s = Shape::Named {
            label: String::with_capacity(6),
            _w: 1,
        };
        assert_eq!(s.heap_bytes(), 6);
        let _ = n.b;
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn ndarray_counts_its_elements() {
        // frames x bins
        let a = crate::ndarray::Array2::<Complex<f32>>::zeros((3, 5));
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
