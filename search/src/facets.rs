//! Facet counts from a table held in memory: for every document of every segment, the values of the counted
//! fields ([`crate::index::FACETS`]) as small integers, read once from the fast fields when the index is opened.
//! Counting a match is then a few array reads, where tantivy's terms aggregation decoded columns and de-duplicated
//! (doc, value) pairs for every match (the larger part of a name-prefix search before; see docs/benchmarks.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

/// Distinct values a counted field may have.
const MAX_VALUES: usize = u16::MAX as usize;
/// Bit of a packed word: the document has more values than the first of some field (in [`SegmentTable::more`],
/// from the index held in bits 32 to 62).
const MORE: u64 = 1 << 63;
/// Bits of a packed word for the fields' first values.
const VALUE_BITS: u32 = 32;

/// One segment: per document, one word packing the first value of every field (value index + 1, 0 for none, in
/// the field's bit range), so that counting a match costs one memory read; the documents with several values
/// for a field (a second profession, activities in two departments) have their other values in `more`.
struct SegmentTable {
    /// Every field's (shift, mask) in a packed word.
    layout: Vec<(u32, u64)>,
    packed: Vec<u64>,
    /// (document, field, value index), sorted by document; a packed word with [`MORE`] says where its start.
    more: Vec<(DocId, u8, u16)>,
}

/// The table of every segment of one searcher, for the fields named.
pub struct FacetTable {
    fields: Vec<&'static str>,
    /// Every field's distinct values (global numbering across segments).
    values: Vec<Vec<String>>,
    segments: HashMap<SegmentId, Arc<SegmentTable>>,
}

impl FacetTable {
    /// Read the fields' values of every document of `searcher`.
    pub fn build(searcher: &Searcher, fields: &[&'static str]) -> Result<FacetTable, String> {
        // The fields' values across segments, numbered; each segment's term ordinals renumbered to them.
        let mut values: Vec<Vec<String>> = vec![Vec::new(); fields.len()];
        let mut numbers: Vec<HashMap<String, u16>> = vec![HashMap::new(); fields.len()];
        let mut columns = Vec::new();
        for reader in searcher.segment_readers() {
            let mut per_field = Vec::with_capacity(fields.len());
            for (f, name) in fields.iter().enumerate() {
                let column = reader.fast_fields().str(name).map_err(|e| format!("{name}: {e}"))?;
                let mut global = Vec::new();
                if let Some(column) = &column {
                    let mut text = String::new();
                    for ord in 0..column.num_terms() as u64 {
                        text.clear();
                        column.ord_to_str(ord, &mut text).map_err(|e| format!("{name}: {e}"))?;
                        let next = values[f].len();
                        let n = *numbers[f].entry(text.clone()).or_insert_with(|| {
                            values[f].push(text.clone());
                            next as u16
                        });
                        if values[f].len() > MAX_VALUES {
                            return Err(format!("{name}: more than {MAX_VALUES} distinct values"));
                        }
                        global.push(n);
                    }
                }
                per_field.push((column, global));
            }
            columns.push((reader, per_field));
        }
        // Bit ranges: value index + 1 in as few bits as the field needs.
        let mut layout = Vec::with_capacity(fields.len());
        let mut shift = 0u32;
        for v in &values {
            let bits = u64::BITS - (v.len() as u64).leading_zeros();
            layout.push((shift, (1u64 << bits) - 1));
            shift += bits;
        }
        if shift > VALUE_BITS {
            return Err(format!("facet values need {shift} bits, more than {VALUE_BITS}"));
        }
        let mut segments = HashMap::new();
        for (reader, per_field) in columns {
            let max_doc = reader.max_doc();
            let mut table =
                SegmentTable { layout: layout.clone(), packed: vec![0; max_doc as usize], more: Vec::new() };
            for doc in 0..max_doc {
                let mut word = 0u64;
                let start = table.more.len() as u64;
                for (f, (column, global)) in per_field.iter().enumerate() {
                    let Some(column) = column else { continue };
                    let mut ords = column.term_ords(doc).map(|o| global[o as usize]);
                    if let Some(first) = ords.next() {
                        word |= (first as u64 + 1) << layout[f].0;
                        table.more.extend(ords.map(|other| (doc, f as u8, other)));
                    }
                }
                if table.more.len() as u64 > start {
                    if start >= 1 << 31 {
                        return Err("too many documents with several facet values".into());
                    }
                    word |= MORE | (start << VALUE_BITS);
                }
                table.packed[doc as usize] = word;
            }
            segments.insert(reader.segment_id(), Arc::new(table));
        }
        Ok(FacetTable { fields: fields.to_vec(), values, segments })
    }

    /// A collector counting, for every field, the matching documents per value.
    pub fn collector(&self) -> FacetCounter<'_> {
        FacetCounter { table: self }
    }

    /// Counts by value index ([`FacetTable::counts`]) as field → value → documents, as a search answers them
    /// (values without a match left out).
    pub fn name(&self, counts: &[Vec<u64>]) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for (f, name) in self.fields.iter().enumerate() {
            let per_value: BTreeMap<String, u64> = counts[f]
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(v, n)| (self.values[f][v].clone(), *n))
                .collect();
            out.insert(name.to_string(), per_value);
        }
        out
    }
}

/// Collector of [`FacetTable::collector`].
pub struct FacetCounter<'a> {
    table: &'a FacetTable,
}

/// Its per-segment part.
pub struct SegmentFacetCounter {
    table: Arc<SegmentTable>,
    /// Per field, per value index + 1 (slot 0 counts documents without a value, and is dropped).
    counts: Vec<Vec<u64>>,
    /// Matches not counted yet: counted [`BLOCK`] at a time, so that their words are read from memory together.
    pending: Vec<DocId>,
}

/// Matches counted together.
const BLOCK: usize = 64;

impl Collector for FacetCounter<'_> {
    type Fruit = BTreeMap<String, BTreeMap<String, u64>>;
    type Child = SegmentFacetCounter;

    fn for_segment(&self, _ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentFacetCounter> {
        let tables = self.table.segments.get(&segment.segment_id()).cloned().ok_or_else(|| {
            tantivy::TantivyError::InternalError(format!("no facet table for segment {}", segment.segment_id()))
        })?;
        let counts = self.table.values.iter().map(|v| vec![0u64; v.len() + 1]).collect();
        Ok(SegmentFacetCounter { table: tables, counts, pending: Vec::with_capacity(BLOCK) })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Vec<u64>>>) -> tantivy::Result<Self::Fruit> {
        Ok(self.table.name(&self.table.merged(fruits)))
    }
}

/// Counts per field and value index, as [`FacetTable::counts`] gives them (to keep, and name later).
pub type Counts = Vec<Vec<u64>>;

/// Collector of [`FacetTable::counts`].
pub struct CountsCollector<'a> {
    table: &'a FacetTable,
}

impl Collector for CountsCollector<'_> {
    type Fruit = Counts;
    type Child = SegmentFacetCounter;

    fn for_segment(&self, ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentFacetCounter> {
        self.table.collector().for_segment(ord, segment)
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Vec<u64>>>) -> tantivy::Result<Counts> {
        Ok(self.table.merged(fruits))
    }
}

impl FacetTable {
    /// A collector of the counts by value index, unnamed (see [`FacetTable::name`]).
    pub fn counts(&self) -> CountsCollector<'_> {
        CountsCollector { table: self }
    }

    fn merged(&self, fruits: Vec<Vec<Vec<u64>>>) -> Counts {
        let mut total: Vec<Vec<u64>> = self.values.iter().map(|v| vec![0u64; v.len()]).collect();
        for fruit in fruits {
            for (t, f) in total.iter_mut().zip(fruit) {
                for (a, b) in t.iter_mut().zip(f.into_iter().skip(1)) {
                    *a += b;
                }
            }
        }
        total
    }
}

impl SegmentFacetCounter {
    /// Count the pending matches: first read all their words (independent loads, which the processor overlaps: the
    /// words of scattered matches are cache misses), then count.
    fn flush(&mut self) {
        let table = &*self.table;
        let mut words = [0u64; BLOCK];
        for (w, &doc) in words.iter_mut().zip(&self.pending) {
            *w = table.packed.get(doc as usize).copied().unwrap_or(0);
        }
        for (&word, &doc) in words.iter().zip(&self.pending) {
            for ((shift, mask), counts) in table.layout.iter().zip(self.counts.iter_mut()) {
                if let Some(c) = counts.get_mut(((word >> shift) & mask) as usize) {
                    *c += 1;
                }
            }
            if word & MORE != 0 {
                let start = ((word & !MORE) >> VALUE_BITS) as usize;
                for &(d, f, v) in table.more.get(start..).unwrap_or_default() {
                    if d != doc {
                        break;
                    }
                    if let Some(c) = self.counts.get_mut(f as usize).and_then(|c| c.get_mut(v as usize + 1)) {
                        *c += 1;
                    }
                }
            }
        }
        self.pending.clear();
    }

    #[inline]
    fn count(&mut self, doc: DocId) {
        self.pending.push(doc);
        if self.pending.len() == BLOCK {
            self.flush();
        }
    }
}

impl SegmentCollector for SegmentFacetCounter {
    type Fruit = Vec<Vec<u64>>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.count(doc);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for &doc in docs {
            self.count(doc);
        }
    }

    fn harvest(mut self) -> Vec<Vec<u64>> {
        self.flush();
        self.counts
    }
}
