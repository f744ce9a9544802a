//! MAT-file v7.3: an HDF5 file behind a 512-byte user block (the MATLAB header), read with the
//! pure-Rust `hdf5-reader`. Every variable is a member of the root group carrying a
//! `MATLAB_class` attribute; dimensions are stored reversed (HDF5 lists them C order, MATLAB's
//! data is column-major), so the HDF5 shape read backwards is MATLAB's `[rows, cols, ...]` and the
//! element order is already MATLAB's. Cells are datasets of object references into the group
//! `#refs#`; structs are groups (struct arrays: one dataset of references per field); sparse
//! matrices are groups with `data`, `ir` and `jc`; empty arrays hold their dimensions instead of
//! data (`MATLAB_empty` = 1).

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use hdf5_reader::group::Group;
use hdf5_reader::messages::layout::DataLayout;
use hdf5_reader::messages::HdfMessage;
use hdf5_reader::{
    Attribute, ByteOrder, Dataset, Datatype, Hdf5File, OpenOptions, ReferenceType, StringSize,
    VarLenKind,
};

use super::{char_value, class_value, opaque, sparse_value, Class, Numeric};
use crate::tensor::{fortran_strides, ByteSource, DType, Tensor};
use crate::value::{natural_cmp, Map, Value};

/// Largest dataset (bytes after decompression) read into memory when it cannot be sliced from
/// the mapped file (chunked, compressed, compact): 4 GiB, as for compressed v5 variables. The
/// sizes come from the file, so a hostile header cannot make diffai allocate beyond this.
pub const MAX_READ_BYTES: u64 = crate::tensor::MAX_INFLATED_BYTES;
/// Deepest nesting of cells and structs accepted (each level costs a little stack).
const MAX_DEPTH: usize = 256;
/// Most dimensions an empty array may list (MATLAB arrays have a few; the list is data).
const MAX_DIMS: u64 = 1024;
/// Most objects (variables, cell elements, struct fields) decoded in one file: 16 Mi, which
/// bounds what many references to one small object can cost.
const MAX_OBJECTS: u64 = 1 << 24;
/// Most bytes read into memory from the file's chunked, compressed or compact datasets, all
/// together, per byte of the file: 1,032, deflate's largest ratio (MATLAB compresses with
/// deflate alone). Chunks that were never written read as the fill value without taking any
/// room in the file, so without this a 32 KB file could ask for gigabytes below
/// [`MAX_READ_BYTES`].
const MAX_EXPANSION: u64 = 1032;

/// The mapped (or owned) file, handed to `hdf5-reader` without copying.
struct Owner(ByteSource);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        self.0.bytes()
    }
}

/// A member of a group.
#[derive(Clone)]
enum Object {
    Group(Group),
    Dataset(Box<Dataset>),
}

impl Object {
    fn address(&self) -> u64 {
        match self {
            Object::Group(g) => g.address(),
            Object::Dataset(d) => d.address(),
        }
    }

    fn name(&self) -> &str {
        match self {
            Object::Group(g) => g.name(),
            Object::Dataset(d) => d.name(),
        }
    }
}

fn h5(e: hdf5_reader::error::Error) -> String {
    format!("HDF5: {}", e.to_string().replace('\n', " "))
}

/// The members of a group: groups and datasets, in natural name order.
fn members(g: &Group) -> Result<Vec<Object>, String> {
    let (groups, datasets) = g.members().map_err(h5)?;
    let mut all: Vec<Object> = groups
        .into_iter()
        .map(Object::Group)
        .chain(datasets.into_iter().map(|d| Object::Dataset(Box::new(d))))
        .collect();
    all.sort_by(|a, b| natural_cmp(a.name(), b.name()));
    Ok(all)
}

pub fn parse(source: &ByteSource) -> Result<Map, String> {
    let options = OpenOptions::default()
        .with_max_read_bytes(usize::try_from(MAX_READ_BYTES).unwrap_or(usize::MAX))
        .with_chunk_cache_bytes(0); // every dataset is read once
    let file = Hdf5File::from_owner(Owner(source.clone()), options).map_err(h5)?;
    let top = members(&file.root_group().map_err(h5)?)?;
    // Object references hold object header addresses: index the objects they may name.
    let mut index = HashMap::new();
    for o in &top {
        if let (Object::Group(g), "#refs#") = (o, o.name()) {
            for r in members(g)? {
                index.insert(r.address(), r);
            }
        }
        index.insert(o.address(), o.clone());
    }
    let mut r = Reader {
        source: source.clone(),
        base: file.superblock().base_address,
        offset_size: file.superblock().offset_size,
        file: &file,
        index,
        stack: Vec::new(),
        containers: HashSet::new(),
        leaves: HashMap::new(),
        decoded: 0,
        in_memory: Cell::new(0),
    };
    let mut root = Map::new();
    for o in top.iter().filter(|o| !o.name().starts_with('#')) {
        let value = r
            .node(o, 0)
            .map_err(|e| format!("variable '{}': {e}", o.name()))?;
        root.insert(o.name().to_string(), value);
    }
    Ok(root)
}

struct Reader<'a> {
    /// The whole file: contiguous datasets are sliced from it (zero copy).
    source: ByteSource,
    /// Where HDF5 addresses start in the file (after the 512-byte user block).
    base: u64,
    offset_size: u8,
    file: &'a Hdf5File,
    /// Objects that references may point to, by address.
    index: HashMap<u64, Object>,
    /// Addresses of the objects being decoded (a reference back to one is a cycle).
    stack: Vec<u64>,
    /// Cells and structs decoded so far. MATLAB writes every element once; a cell or struct
    /// reached twice is refused, as references sharing containers can make a small file decode
    /// into an exponentially large tree.
    containers: HashSet<u64>,
    /// Other objects references pointed to so far (several references may share one, as
    /// MATLAB's canonical empty value): decoded once, tensors then share their bytes.
    leaves: HashMap<u64, Value>,
    decoded: u64,
    /// Bytes read into memory so far (datasets not sliced from the file).
    in_memory: Cell<u64>,
}

fn attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name == name)
}

fn attr_str(attrs: &[Attribute], name: &str) -> Option<String> {
    let s = attr(attrs, name)?.read_string().ok()?;
    Some(s.trim_end_matches('\0').to_string())
}

/// MATLAB's dimensions from HDF5's: reversed, at least two.
fn matlab_shape(dims: &[u64]) -> Vec<u64> {
    let mut shape: Vec<u64> = dims.iter().rev().copied().collect();
    while shape.len() < 2 {
        shape.push(1);
    }
    shape
}

fn numel(shape: &[u64]) -> Result<u64, String> {
    shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("dimensions {shape:?} overflow"))
}

fn class_of(name: &str) -> Option<Class> {
    use Class::*;
    Some(match name {
        "double" => Double,
        "single" => Single,
        "int8" => Int8,
        "uint8" => UInt8,
        "int16" => Int16,
        "uint16" => UInt16,
        "int32" => Int32,
        "uint32" => UInt32,
        "int64" => Int64,
        "uint64" => UInt64,
        "logical" => Logical,
        _ => return None,
    })
}

/// A numeric HDF5 type as stored: element type and whether it is big-endian.
fn stored_dtype(t: &Datatype) -> Option<(DType, bool)> {
    let (dtype, order) = match t {
        Datatype::FixedPoint {
            size,
            signed,
            byte_order,
        } => (
            match (size, signed) {
                (1, true) => DType::I8,
                (1, false) => DType::U8,
                (2, true) => DType::I16,
                (2, false) => DType::U16,
                (4, true) => DType::I32,
                (4, false) => DType::U32,
                (8, true) => DType::I64,
                (8, false) => DType::U64,
                _ => return None,
            },
            byte_order,
        ),
        Datatype::FloatingPoint { size, byte_order } => (
            match size {
                2 => DType::F16,
                4 => DType::F32,
                8 => DType::F64,
                _ => return None,
            },
            byte_order,
        ),
        _ => return None,
    };
    Some((dtype, *order == ByteOrder::BigEndian && dtype.bits() > 8))
}

/// The class a dataset without `MATLAB_class` is taken as, from its storage type.
fn class_from_storage(t: &Datatype) -> Option<Class> {
    let t = complex_fields(t).map_or(t, |(re, _)| &re.datatype);
    use Class::*;
    Some(match stored_dtype(t)?.0 {
        DType::F64 => Double,
        DType::F32 | DType::F16 => Single,
        DType::I8 => Int8,
        DType::U8 => UInt8,
        DType::I16 => Int16,
        DType::U16 => UInt16,
        DType::I32 => Int32,
        DType::U32 => UInt32,
        DType::I64 => Int64,
        DType::U64 => UInt64,
        _ => return None,
    })
}

fn fields_of(t: &Datatype) -> Option<&[hdf5_reader::CompoundField]> {
    match t {
        Datatype::Compound { fields, .. } => Some(fields),
        _ => None,
    }
}

/// The `real` and `imag` members of a complex compound type.
fn complex_fields(
    t: &Datatype,
) -> Option<(&hdf5_reader::CompoundField, &hdf5_reader::CompoundField)> {
    let fields = fields_of(t)?;
    let re = fields.iter().find(|f| f.name == "real")?;
    let im = fields.iter().find(|f| f.name == "imag")?;
    (fields.len() == 2).then_some((re, im))
}

fn is_reference(t: &Datatype) -> bool {
    matches!(
        t,
        Datatype::Reference {
            ref_type: ReferenceType::Object,
            ..
        }
    )
}

impl Reader<'_> {
    /// One object: a variable, a cell element or a struct field.
    fn node(&mut self, o: &Object, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "cells and structs nest deeper than {MAX_DEPTH} levels"
            ));
        }
        self.decoded += 1;
        if self.decoded > MAX_OBJECTS {
            return Err(format!(
                "more than {MAX_OBJECTS} objects to decode (references shared many times?)"
            ));
        }
        let address = o.address();
        if self.stack.contains(&address) {
            return Err(format!(
                "reference cycle: the object at address {address:#x} contains itself"
            ));
        }
        if self.containers.contains(&address) {
            return Err(format!(
                "the cell or struct at address {address:#x} is reached twice (MATLAB writes each element once)"
            ));
        }
        self.stack.push(address);
        let value = match o {
            Object::Group(g) => self.group(g, depth),
            Object::Dataset(d) => self.dataset(d, depth),
        };
        self.stack.pop();
        value
    }

    /// The object an object reference points to, decoded (once, unless it is a cell or struct).
    fn referenced(&mut self, address: u64, depth: usize) -> Result<Value, String> {
        if let Some(v) = self.leaves.get(&address) {
            return Ok(v.clone());
        }
        let o = self.index.get(&address).cloned().ok_or_else(|| {
            format!(
                "an object reference points to address {address:#x}, where #refs# holds no object"
            )
        })?;
        let v = self.node(&o, depth)?;
        if !self.containers.contains(&address) {
            self.leaves.insert(address, v.clone());
        }
        Ok(v)
    }

    fn group(&mut self, g: &Group, depth: usize) -> Result<Value, String> {
        let attrs = g.attributes().map_err(h5)?;
        let class = attr_str(&attrs, "MATLAB_class");
        if let Some(rows) = attr(&attrs, "MATLAB_sparse") {
            return self.sparse(g, class.as_deref(), rows);
        }
        match class.as_deref() {
            None | Some("struct") => self.structure(g, &attrs, depth),
            Some(other) => Ok(opaque(other, &[1, 1])),
        }
    }

    /// Field names from `MATLAB_fields` (variable-length sequences of characters).
    fn field_names(&self, g: &Group, attrs: &[Attribute]) -> Result<Option<Vec<String>>, String> {
        let Some(a) = attr(attrs, "MATLAB_fields") else {
            return Ok(None);
        };
        match &a.datatype {
            Datatype::VarLen {
                kind: VarLenKind::Sequence,
                ..
            } => {
                let size = 4 + self.offset_size as usize + 4;
                let n = a.num_elements().map_err(h5)?;
                if n.checked_mul(size as u64) != Some(a.raw_data.len() as u64) {
                    return Err("MATLAB_fields holds fewer names than it declares".into());
                }
                a.raw_data
                    .chunks_exact(size)
                    .map(|r| {
                        let bytes = g.resolve_vlen_reference_bytes(r, 1).map_err(h5)?;
                        Ok(String::from_utf8_lossy(&bytes)
                            .trim_end_matches('\0')
                            .to_string())
                    })
                    .collect::<Result<Vec<_>, String>>()
                    .map(Some)
            }
            Datatype::String {
                size: StringSize::Fixed(_),
                ..
            } => Ok(Some(a.read_strings().map_err(h5)?)),
            _ => Ok(None),
        }
    }

    fn structure(&mut self, g: &Group, attrs: &[Attribute], depth: usize) -> Result<Value, String> {
        self.containers.insert(g.address());
        let mut members = members(g)?;
        let fields: Vec<Object> = match self.field_names(g, attrs)? {
            Some(names) => {
                let mut ordered = Vec::with_capacity(members.len());
                for n in &names {
                    let at = members
                        .iter()
                        .position(|m| m.name() == n)
                        .ok_or_else(|| format!("struct field '{n}' is missing"))?;
                    ordered.push(members.remove(at));
                }
                ordered.extend(members); // members MATLAB_fields does not list
                ordered
            }
            None => members,
        };
        // A struct array stores each field as a dataset of references, one per element.
        let array = !fields.is_empty()
            && fields.iter().all(|f| match f {
                Object::Dataset(d) => {
                    is_reference(d.dtype()) && attr(&d.attributes(), "MATLAB_class").is_none()
                }
                Object::Group(_) => false,
            });
        if !array {
            let mut m = Map::new();
            for f in &fields {
                let v = self.node(f, depth + 1)?;
                m.insert(f.name().to_string(), v);
            }
            return Ok(Value::Map(m));
        }
        let mut columns = Vec::with_capacity(fields.len());
        let mut count = None;
        for f in &fields {
            let Object::Dataset(d) = f else {
                unreachable!("checked above")
            };
            let refs = self.references(d)?;
            if *count.get_or_insert(refs.len()) != refs.len() {
                return Err("the fields of a struct array have different lengths".into());
            }
            columns.push(refs);
        }
        let count = count.unwrap_or(0);
        let mut elements = Vec::with_capacity(count);
        for k in 0..count {
            let mut m = Map::new();
            for (f, refs) in fields.iter().zip(&columns) {
                let v = self.referenced(refs[k], depth + 1)?;
                m.insert(f.name().to_string(), v);
            }
            elements.push(Value::Map(m));
        }
        Ok(if elements.len() == 1 {
            elements.pop().expect("one")
        } else {
            Value::List(elements)
        })
    }

    fn sparse(
        &mut self,
        g: &Group,
        class: Option<&str>,
        rows: &Attribute,
    ) -> Result<Value, String> {
        let rows = rows.read_as_f64().map_err(h5)?;
        if !(rows >= 0.0 && rows.fract() == 0.0 && rows < u64::MAX as f64) {
            return Err(format!("sparse matrix with {rows} rows"));
        }
        let members = members(g)?;
        let part = |name: &str| {
            members.iter().find_map(|m| match m {
                Object::Dataset(d) if m.name() == name => Some(d.as_ref().clone()),
                _ => None,
            })
        };
        let jc = part("jc").ok_or("sparse matrix without column pointers (jc)")?;
        let jc = self.integers(&jc)?;
        let cols = jc
            .len()
            .checked_sub(1)
            .ok_or("sparse matrix with no column pointers")? as u64;
        let ir = match part("ir") {
            Some(d) => self.integers(&d)?,
            None => Vec::new(),
        };
        let (re, im) = match part("data") {
            Some(d) if complex_fields(d.dtype()).is_some() => {
                let (re, im) = self.complex_parts(&d)?;
                (self.decode(&re)?, Some(self.decode(&im)?))
            }
            Some(d) => (self.numbers(&d)?, None),
            None => (Vec::new(), None),
        };
        sparse_value(
            rows as u64,
            cols,
            &ir,
            &jc,
            &re,
            im.as_deref(),
            class == Some("logical"),
        )
    }

    fn dataset(&mut self, d: &Dataset, depth: usize) -> Result<Value, String> {
        let attrs = d.attributes();
        let class = attr_str(&attrs, "MATLAB_class");
        let empty = match attr(&attrs, "MATLAB_empty") {
            Some(a) => a.read_as_f64().map_err(h5)? != 0.0,
            None => false,
        };
        if empty {
            // The data are the dimensions themselves.
            if d.num_elements().map_err(h5)? > MAX_DIMS {
                return Err(format!(
                    "an empty array with more than {MAX_DIMS} dimensions"
                ));
            }
            let shape = self
                .numbers(d)?
                .into_iter()
                .map(|x| {
                    (x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64)
                        .then_some(x as u64)
                        .ok_or_else(|| format!("an empty array has dimension {x}"))
                })
                .collect::<Result<Vec<u64>, String>>()?;
            let n = numel(&shape)?;
            return match class.as_deref() {
                Some("char") => char_value("", &shape),
                Some(name) if class_of(name).is_some() => {
                    let class = class_of(name).expect("checked");
                    let real = Numeric {
                        stored: class.dtype(false),
                        bytes: ByteSource::owned(Vec::new()),
                        big_endian: false,
                    };
                    class_value(class, &shape, n, real, None)
                }
                None | Some("cell" | "struct" | "canonical empty") => Ok(Value::List(Vec::new())),
                Some(other) => Ok(opaque(other, &shape)),
            };
        }
        let shape = matlab_shape(d.shape());
        let n = numel(&shape)?;
        let class = match class {
            Some(c) => c,
            None if is_reference(d.dtype()) => "cell".into(),
            None => match class_from_storage(d.dtype()) {
                Some(c) => return self.numeric(d, c, &shape, n),
                None => return Ok(opaque("unknown", &shape)),
            },
        };
        match class.as_str() {
            "cell" => {
                self.containers.insert(d.address());
                let refs = self.references(d)?;
                let mut items = Vec::with_capacity(refs.len());
                for (i, &address) in refs.iter().enumerate() {
                    let v = self
                        .referenced(address, depth + 1)
                        .map_err(|e| format!("cell element {i}: {e}"))?;
                    items.push(v);
                }
                Ok(Value::List(items))
            }
            "char" => {
                let text = self.text(d, n)?;
                char_value(&text, &shape)
            }
            name => match class_of(name) {
                Some(c) => self.numeric(d, c, &shape, n),
                None => Ok(opaque(name, &shape)),
            },
        }
    }

    /// A numeric or logical array of `class`, real or complex (compound `real`, `imag`).
    fn numeric(&self, d: &Dataset, class: Class, shape: &[u64], n: u64) -> Result<Value, String> {
        let t = d.dtype();
        if let Some((re, im)) = complex_fields(t) {
            let size = match t {
                Datatype::Compound { size, .. } => *size as u64,
                _ => unreachable!("compound"),
            };
            let dtype = class.dtype(true);
            let half = dtype.bits() / 16;
            let native = |f: &hdf5_reader::CompoundField, at: u64| {
                stored_dtype(&f.datatype) == Some((class.dtype(false), false))
                    && f.byte_offset as u64 == at
            };
            if dtype.is_complex() && size == 2 * half && native(re, 0) && native(im, half) {
                // real, imaginary interleaved as diffai's complex types: zero copy
                let bytes = self.bytes(d, n, size)?;
                let mut t = Tensor::dense(dtype, shape.to_vec(), bytes);
                t.strides = fortran_strides(shape);
                return Ok(Value::Tensor(Box::new(t)));
            }
            let (re, im) = self.complex_parts(d)?;
            return class_value(class, shape, n, re, Some(im));
        }
        let (mut stored, big_endian) = stored_dtype(t)
            .ok_or_else(|| format!("a {class:?} array stored as HDF5 type {t:?}"))?;
        if class == Class::Logical && stored == DType::U8 {
            stored = DType::Bool; // 0/1 bytes: used as they are
        }
        let bytes = self.bytes(d, n, stored.bits() / 8)?;
        class_value(
            class,
            shape,
            n,
            Numeric {
                stored,
                bytes,
                big_endian,
            },
            None,
        )
    }

    /// The real and imaginary parts of a compound dataset, each gathered into its own bytes.
    fn complex_parts(&self, d: &Dataset) -> Result<(Numeric, Numeric), String> {
        let t = d.dtype();
        let (Some((re, im)), Datatype::Compound { size, .. }) = (complex_fields(t), t) else {
            return Err("not a complex (real, imag) type".into());
        };
        let size = *size as usize;
        let n = d.num_elements().map_err(h5)?;
        let all = self.bytes(d, n, size as u64)?;
        let part = |f: &hdf5_reader::CompoundField| -> Result<Numeric, String> {
            let (stored, big_endian) = stored_dtype(&f.datatype)
                .ok_or_else(|| format!("complex part of HDF5 type {:?}", f.datatype))?;
            let (at, width) = (f.byte_offset as usize, (stored.bits() / 8) as usize);
            if at + width > size {
                return Err("a complex part lies outside its element".into());
            }
            let bytes = all
                .bytes()
                .chunks_exact(size)
                .flat_map(|e| &e[at..at + width])
                .copied()
                .collect();
            Ok(Numeric {
                stored,
                bytes: ByteSource::owned(bytes),
                big_endian,
            })
        };
        Ok((part(re)?, part(im)?))
    }

    fn decode(&self, p: &Numeric) -> Result<Vec<f64>, String> {
        let n = p.bytes.len() as u64 / (p.stored.bits() / 8);
        let mut out = vec![0.0; n as usize];
        let t = Tensor {
            big_endian: p.big_endian,
            ..Tensor::dense(p.stored, vec![n], p.bytes.clone())
        };
        super::decode_all(&t, &mut out);
        Ok(out)
    }

    /// Every element of a numeric dataset as f64.
    fn numbers(&self, d: &Dataset) -> Result<Vec<f64>, String> {
        let (stored, big_endian) = stored_dtype(d.dtype())
            .ok_or_else(|| format!("expected numbers, found HDF5 type {:?}", d.dtype()))?;
        let n = d.num_elements().map_err(h5)?;
        let bytes = self.bytes(d, n, stored.bits() / 8)?;
        self.decode(&Numeric {
            stored,
            bytes,
            big_endian,
        })
    }

    fn integers(&self, d: &Dataset) -> Result<Vec<i64>, String> {
        Ok(self
            .numbers(d)?
            .into_iter()
            .map(|x| if x.fract() == 0.0 { x as i64 } else { -1 })
            .collect())
    }

    /// The object addresses a reference dataset holds, in storage (column-major) order.
    fn references(&self, d: &Dataset) -> Result<Vec<u64>, String> {
        let size = match d.dtype() {
            Datatype::Reference {
                ref_type: ReferenceType::Object,
                size,
            } => *size,
            t => return Err(format!("expected object references, found HDF5 type {t:?}")),
        };
        if size != self.offset_size {
            return Err(format!(
                "object references of {size} bytes in a file of {}-byte addresses",
                self.offset_size
            ));
        }
        let n = d.num_elements().map_err(h5)?;
        let bytes = self.bytes(d, n, size as u64)?;
        hdf5_reader::reference::read_object_references(bytes.bytes(), size).map_err(h5)
    }

    /// Text from character codes (uint8 Latin-1, uint16 UTF-16 code units, uint32 code points).
    fn text(&self, d: &Dataset, n: u64) -> Result<String, String> {
        let width = match d.dtype() {
            Datatype::FixedPoint { size, .. } if matches!(size, 1 | 2 | 4) => *size,
            t => return Err(format!("a char array stored as HDF5 type {t:?}")),
        };
        let big = matches!(
            d.dtype(),
            Datatype::FixedPoint {
                byte_order: ByteOrder::BigEndian,
                ..
            }
        );
        let bytes = self.bytes(d, n, width as u64)?;
        let units: Vec<u32> = bytes
            .bytes()
            .chunks_exact(width as usize)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                if big {
                    b[..c.len()].reverse();
                }
                u32::from_le_bytes(b)
            })
            .collect();
        let one_by_one = |units: &[u32]| -> String {
            units
                .iter()
                .map(|&u| char::from_u32(u).unwrap_or('\u{FFFD}'))
                .collect()
        };
        if width != 2 {
            return Ok(one_by_one(&units));
        }
        let text: String = char::decode_utf16(units.iter().map(|&u| u as u16))
            .map(|c| c.unwrap_or('\u{FFFD}'))
            .collect();
        // A surrogate pair is one character but two MATLAB chars: keep the count MATLAB has.
        Ok(if text.chars().count() == units.len() {
            text
        } else {
            one_by_one(&units)
        })
    }

    /// The bytes of all `n` elements of `width` bytes of a dataset: a slice of the file when it
    /// is stored contiguously and unfiltered, else read (and decompressed) into memory.
    fn bytes(&self, d: &Dataset, n: u64, width: u64) -> Result<ByteSource, String> {
        let len = n.checked_mul(width).ok_or("dataset size overflows")?;
        if len == 0 {
            return Ok(ByteSource::owned(Vec::new()));
        }
        let header = self.file.get_or_parse_header(d.address()).map_err(h5)?;
        let filtered = header.messages.iter().any(|m| {
            matches!(
                m,
                HdfMessage::FilterPipeline(_) | HdfMessage::ExternalFiles(_)
            )
        });
        let contiguous = header.messages.iter().find_map(|m| match m {
            HdfMessage::DataLayout(l) => match l.layout {
                DataLayout::Contiguous { address, size } => Some((address, size)),
                _ => None,
            },
            _ => None,
        });
        let undefined = u64::MAX >> (64 - 8 * u32::from(self.offset_size.clamp(1, 8)));
        if let (Some((address, size)), false) = (contiguous, filtered) {
            if address != undefined {
                if size < len {
                    return Err(format!(
                        "dataset '{}' stores {size} bytes for {n} elements of {width} bytes",
                        d.name()
                    ));
                }
                return address
                    .checked_add(self.base)
                    .and_then(|at| self.source.slice(at, len))
                    .ok_or_else(|| {
                        format!(
                            "the data of dataset '{}' ({len} bytes at address {address:#x}) runs past the end of the file",
                            d.name()
                        )
                    });
            }
        }
        if len > MAX_READ_BYTES {
            return Err(format!(
                "dataset '{}' holds {len} bytes, more than the {MAX_READ_BYTES} bytes diffai reads into memory for one chunked or compressed dataset",
                d.name()
            ));
        }
        let total = self.in_memory.get().saturating_add(len);
        let file_len = self.source.len() as u64;
        let budget = file_len.saturating_mul(MAX_EXPANSION);
        if total > budget {
            return Err(format!(
                "dataset '{}' would bring the bytes read into memory to {total}, more than {MAX_EXPANSION} times the file's {file_len} bytes (deflate's largest ratio; chunks never written?)",
                d.name()
            ));
        }
        self.in_memory.set(total);
        let raw = d.read_raw_bytes().map_err(h5)?;
        if raw.len() as u64 != len {
            return Err(format!(
                "dataset '{}' reads as {} bytes instead of {len}",
                d.name(),
                raw.len()
            ));
        }
        Ok(ByteSource::owned(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contiguous, unfiltered datasets (real, complex, logical) are read in place, not copied.
    #[test]
    fn contiguous_datasets_are_slices_of_the_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/matlab/ws_v73.mat"
        );
        let source = ByteSource::owned(std::fs::read(path).expect("fixture"));
        let root = parse(&source).expect("parses");
        let file = source.bytes().as_ptr_range();
        for name in ["results", "z", "zs", "flag", "i16", "single_v"] {
            let Some(Value::Tensor(t)) = root.get(name) else {
                panic!("{name} is not a tensor")
            };
            assert!(file.contains(&t.bytes().as_ptr()), "{name} was copied");
        }
    }
}
