//! Pickle values → the value tree.
//!
//! Dicts become maps (keys as text), lists/tuples/sets lists, tensors tensor leaves.
//! `torch.nn.Module` objects (full-model saves, TorchScript modules) become the maps their
//! state dicts would be (`fc1.weight`); any other object becomes a map naming its class under
//! `__class__`, with its constructor arguments and state, so the tensors inside stay reachable.
//! Nesting depth and the number of nodes are capped: a pickle that shares one list a million
//! times cannot expand into a billion nodes. The nodes are counted before anything is built
//! (each shared object's count is computed once), so such a pickle is refused at once instead of
//! after gigabytes of values.

use std::collections::HashMap;
use std::rc::Rc;

use super::host::Quantized;
use super::pickle::{Object, Pv};
use crate::tensor::{ByteSource, DType, Tensor};
use crate::value::{Map, Value};

/// Deepest nesting converted; real checkpoints nest a few dozen levels.
pub const MAX_DEPTH: usize = 1_000;
/// Most nodes one pickle may expand into (shared objects count once per reference): a value
/// tree node is ~40 bytes, so 2 GB of values; real checkpoints hold a few thousand.
pub const MAX_NODES: usize = 50_000_000;

/// Attributes every TorchScript module has that are not part of its state dict.
const SCRIPT_MODULE_BOOKKEEPING: &[&str] = &["training", "_is_full_backward_hook"];

pub struct Converter;

fn too_deep() -> String {
    format!("pickle nests deeper than {MAX_DEPTH} levels")
}

/// How many nodes converting `v` can make at most: `v` and every value reachable from it, a
/// shared object once per reference (its count is cached by address, so this takes one visit
/// per distinct object). Counting saturates just past [`MAX_NODES`]. The conversion reaches
/// at most these values (it skips some of an object's), so this bounds its size; the conversion
/// nests at least as deep as the values do, so values nested deeper than [`MAX_DEPTH`] (a cycle
/// among them) would fail it too.
fn expanded(v: &Pv, depth: usize, cache: &mut HashMap<usize, usize>) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let key = match v {
        Pv::Tuple(t) => Rc::as_ptr(t) as *const () as usize,
        Pv::List(l) | Pv::Set(l) => Rc::as_ptr(l) as *const () as usize,
        Pv::Dict(d) => Rc::as_ptr(d) as *const () as usize,
        Pv::Object(o) => Rc::as_ptr(o) as *const () as usize,
        _ => return Ok(1),
    };
    if let Some(&n) = cache.get(&key) {
        return Ok(n);
    }
    let mut n = 1usize;
    let mut add = |child: &Pv, cache: &mut HashMap<usize, usize>| -> Result<(), String> {
        n = n
            .saturating_add(expanded(child, depth + 1, cache)?)
            .min(MAX_NODES + 1);
        Ok(())
    };
    match v {
        Pv::Tuple(items) => items.iter().try_for_each(|i| add(i, cache))?,
        Pv::List(items) | Pv::Set(items) => {
            items.borrow().iter().try_for_each(|i| add(i, cache))?
        }
        Pv::Dict(d) => d.borrow().iter().try_for_each(|(_, v)| add(v, cache))?,
        Pv::Object(o) => {
            let o = o.borrow();
            add(&o.args, cache)?;
            if let Some(state) = &o.state {
                add(state, cache)?;
            }
            o.list_items.iter().try_for_each(|i| add(i, cache))?;
            o.dict_items.iter().try_for_each(|(_, v)| add(v, cache))?;
        }
        _ => {}
    }
    cache.insert(key, n);
    Ok(n)
}

impl Converter {
    pub fn new() -> Self {
        Converter
    }

    pub fn value(&mut self, v: &Pv) -> Result<Value, String> {
        if expanded(v, 0, &mut HashMap::new())? > MAX_NODES {
            return Err(format!("pickle expands to more than {MAX_NODES} values"));
        }
        self.convert(v, 0)
    }

    fn convert(&mut self, v: &Pv, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        Ok(match v {
            Pv::None => Value::Null,
            Pv::Bool(b) => Value::Bool(*b),
            Pv::Int(i) => Value::Int(*i),
            Pv::BigInt(b) => Value::Str(format!("<{}-byte integer>", b.len())),
            Pv::Float(f) => Value::Float(*f),
            Pv::Str(s) => Value::Str(s.to_string()),
            Pv::Bytes(b) => Value::Bytes(b.to_vec()),
            Pv::Tuple(items) => self.list(items, depth)?,
            Pv::List(items) => self.list(&items.borrow(), depth)?,
            Pv::Set(items) => self.list(&items.borrow(), depth)?,
            Pv::Dict(d) => Value::Map(self.pairs(&d.borrow(), depth)?),
            Pv::Global(g) => Value::Str(format!("<{}>", g.path())),
            Pv::Object(o) => self.object(&o.borrow(), depth)?,
            Pv::Host(h) => {
                if let Some(t) = h.downcast_ref::<Tensor>() {
                    Value::Tensor(Box::new(t.clone()))
                } else if let Some(s) = h.downcast_ref::<super::host::Storage>() {
                    let elem = (s.dtype.bits() / 8).max(1);
                    Value::Tensor(Box::new(Tensor::dense(
                        s.dtype,
                        vec![s.source.len() as u64 / elem],
                        s.source.clone(),
                    )))
                } else if let Some(q) = h.downcast_ref::<Quantized>() {
                    let mut m = Map::new();
                    m.push("__class__".into(), Value::Str("quantized tensor".into()));
                    m.push("dtype".into(), Value::Str(q.dtype.clone()));
                    m.push(
                        "shape".into(),
                        Value::List(q.shape.iter().map(|&d| Value::Int(d as i128)).collect()),
                    );
                    m.push(
                        "fallback".into(),
                        Value::Str("quantized tensors are not decoded".into()),
                    );
                    Value::Map(m)
                } else {
                    Value::Null
                }
            }
        })
    }

    fn list(&mut self, items: &[Pv], depth: usize) -> Result<Value, String> {
        items
            .iter()
            .map(|i| self.convert(i, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List)
    }

    fn pairs(&mut self, items: &[(Pv, Pv)], depth: usize) -> Result<Map, String> {
        let mut m = Map::new();
        for (k, v) in items {
            m.insert(key_text(k), self.convert(v, depth + 1)?);
        }
        Ok(m)
    }

    fn object(&mut self, o: &Object, depth: usize) -> Result<Value, String> {
        if let Some(v) = numpy_value(o) {
            return Ok(v);
        }
        if o.class.is("collections", "OrderedDict") || o.class.is("builtins", "dict") {
            return Ok(Value::Map(self.pairs(&o.dict_items, depth)?));
        }
        let state = o.state.as_ref();
        if let Some(Pv::Dict(d)) = state {
            let d = d.borrow();
            if is_module_state(&d) {
                return self.module(&d, depth).map(Value::Map);
            }
            if o.class.module.starts_with("__torch__") {
                return self.script_module(&d, depth).map(Value::Map);
            }
        }
        let mut m = Map::new();
        m.push("__class__".into(), Value::Str(o.class.path()));
        match &o.args {
            Pv::Tuple(t) if t.is_empty() => {}
            args => m.push("__args__".into(), self.convert(args, depth + 1)?),
        }
        match state {
            Some(Pv::Dict(d)) => {
                for (k, v) in self.pairs(&d.borrow(), depth)? {
                    m.insert(k, v);
                }
            }
            Some(other) => m.push("__state__".into(), self.convert(other, depth + 1)?),
            None => {}
        }
        if !o.list_items.is_empty() {
            m.push("__items__".into(), self.list(&o.list_items, depth)?);
        }
        for (k, v) in self.pairs(&o.dict_items, depth)? {
            m.insert(k, v);
        }
        Ok(Value::Map(m))
    }

    /// An `nn.Module`: its parameters, buffers and child modules, as its state dict names them.
    fn module(&mut self, state: &[(Pv, Pv)], depth: usize) -> Result<Map, String> {
        let mut m = Map::new();
        for field in ["_parameters", "_buffers", "_modules"] {
            for (k, v) in self.named(get(state, field).as_ref(), depth)? {
                m.insert(k, v);
            }
        }
        m.retain(|_, v| !no_state(v));
        Ok(m)
    }

    /// A TorchScript module object: its attributes (parameters, buffers, submodules, constants),
    /// less the bookkeeping every module carries.
    fn script_module(&mut self, state: &[(Pv, Pv)], depth: usize) -> Result<Map, String> {
        let mut m = self.pairs(state, depth)?;
        m.retain(|k, v| !SCRIPT_MODULE_BOOKKEEPING.contains(&k) && !no_state(v));
        Ok(m)
    }

    /// The entries of a dict-like value (a dict, or an `OrderedDict` object).
    fn named(&mut self, v: Option<&Pv>, depth: usize) -> Result<Map, String> {
        match v {
            Some(Pv::Dict(d)) => self.pairs(&d.borrow(), depth + 1),
            Some(Pv::Object(o)) => self.pairs(&o.borrow().dict_items, depth + 1),
            _ => Ok(Map::new()),
        }
    }
}

impl Default for Converter {
    fn default() -> Self {
        Self::new()
    }
}

/// Absent parameters (None) and parameter-less children (Dropout, ReLU) have no state-dict
/// entries.
fn no_state(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}

fn get(items: &[(Pv, Pv)], key: &str) -> Option<Pv> {
    items
        .iter()
        .find(|(k, _)| matches!(k, Pv::Str(s) if &**s == key))
        .map(|(_, v)| v.clone())
}

fn is_module_state(items: &[(Pv, Pv)]) -> bool {
    get(items, "_parameters").is_some() && get(items, "_modules").is_some()
}

/// Map keys as text: strings as they are, numbers in decimal, anything else described.
fn key_text(k: &Pv) -> String {
    match k {
        Pv::Str(s) => s.to_string(),
        Pv::Int(i) => i.to_string(),
        Pv::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Pv::Float(f) => f.to_string(),
        Pv::None => "None".to_string(),
        Pv::Bytes(b) => String::from_utf8_lossy(b).to_string(),
        Pv::Tuple(t) => format!(
            "({})",
            t.iter().map(key_text).collect::<Vec<_>>().join(", ")
        ),
        other => format!("<{}>", super::pickle::kind(other)),
    }
}

/// numpy values pickled inside checkpoints: scalars (`numpy.float64(0.875)`) and arrays.
fn numpy_value(o: &Object) -> Option<Value> {
    let module = o.class.module.as_str();
    if !(module == "numpy.core.multiarray" || module == "numpy._core.multiarray") {
        return None;
    }
    match o.class.name.as_str() {
        "scalar" => {
            let args = tuple(&o.args)?;
            let dtype = numpy_dtype(args.first()?)?;
            let bytes = match args.get(1)? {
                Pv::Bytes(b) => b.clone(),
                _ => return None,
            };
            scalar(dtype, &bytes)
        }
        "_reconstruct" => {
            // BUILD state: (version, shape, dtype, is_fortran, raw bytes)
            let state = tuple(o.state.as_ref()?)?;
            let shape: Vec<u64> = tuple(state.get(1)?)?
                .iter()
                .map(|d| match d {
                    Pv::Int(i) if *i >= 0 => Some(*i as u64),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            let (dtype, big_endian) = numpy_dtype_order(state.get(2)?)?;
            let fortran = matches!(state.get(3)?, Pv::Bool(true));
            let raw = match state.get(4)? {
                Pv::Bytes(b) => b.to_vec(),
                _ => return None,
            };
            let numel: u64 = shape.iter().product();
            if dtype.bytes_for(numel)? != raw.len() as u64 {
                return None;
            }
            let mut t = Tensor::dense(dtype, shape.clone(), ByteSource::owned(raw));
            t.big_endian = big_endian && dtype.bits() > 8;
            if fortran {
                t.strides = crate::tensor::fortran_strides(&shape);
            }
            Some(Value::Tensor(Box::new(t)))
        }
        _ => None,
    }
}

fn tuple(v: &Pv) -> Option<Rc<Vec<Pv>>> {
    match v {
        Pv::Tuple(t) => Some(t.clone()),
        _ => None,
    }
}

fn numpy_dtype(v: &Pv) -> Option<DType> {
    numpy_dtype_order(v).map(|(d, _)| d)
}

/// A pickled `numpy.dtype('f8', False, True)` object, with its byte order from the BUILD state.
fn numpy_dtype_order(v: &Pv) -> Option<(DType, bool)> {
    let Pv::Object(o) = v else { return None };
    let o = o.borrow();
    if o.class.name != "dtype" {
        return None;
    }
    let code = match tuple(&o.args)?.first()? {
        Pv::Str(s) => s.to_string(),
        _ => return None,
    };
    let big_endian = match o
        .state
        .as_ref()
        .and_then(tuple)
        .and_then(|s| s.get(1).cloned())
    {
        Some(Pv::Str(order)) => &*order == ">",
        _ => false,
    };
    use DType::*;
    let dtype = match code.as_str() {
        "f8" => F64,
        "f4" => F32,
        "f2" => F16,
        "i8" => I64,
        "i4" => I32,
        "i2" => I16,
        "i1" => I8,
        "u8" => U64,
        "u4" => U32,
        "u2" => U16,
        "u1" => U8,
        "b1" => Bool,
        "c8" => C64,
        "c16" => C128,
        _ => return None,
    };
    Some((dtype, big_endian))
}

fn scalar(dtype: DType, b: &[u8]) -> Option<Value> {
    use DType::*;
    let arr = |n: usize| -> Option<[u8; 8]> {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(b.get(..n)?);
        Some(a)
    };
    Some(match dtype {
        F64 => Value::Float(f64::from_le_bytes(arr(8)?)),
        F32 => Value::Float(f32::from_le_bytes(b.get(..4)?.try_into().ok()?) as f64),
        F16 => Value::Float(half::f16::from_le_bytes(b.get(..2)?.try_into().ok()?).to_f64()),
        I64 => Value::Int(i64::from_le_bytes(arr(8)?) as i128),
        I32 => Value::Int(i32::from_le_bytes(b.get(..4)?.try_into().ok()?) as i128),
        I16 => Value::Int(i16::from_le_bytes(b.get(..2)?.try_into().ok()?) as i128),
        I8 => Value::Int(*b.first()? as i8 as i128),
        U64 => Value::Int(u64::from_le_bytes(arr(8)?) as i128),
        U32 => Value::Int(u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as i128),
        U16 => Value::Int(u16::from_le_bytes(b.get(..2)?.try_into().ok()?) as i128),
        U8 => Value::Int(*b.first()? as i128),
        Bool => Value::Bool(*b.first()? != 0),
        _ => return None,
    })
}
