//! What torch pickles mean: storages behind persistent ids, and the allow-list of constructors
//! that build values (tensor rebuilders, parameters, `OrderedDict`, `torch.Size`, …). Everything
//! else stays an unevaluated object.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::pickle::{Global, Host, Pv};
use crate::tensor::{dense_strides, strided_span, ByteSource, DType, Tensor};

/// A storage as the pickle refers to it: its element type and bytes.
#[derive(Debug)]
pub struct Storage {
    pub dtype: DType,
    pub source: ByteSource,
}

/// A quantized tensor: reported with its dtype and shape, not decoded.
#[derive(Debug)]
pub struct Quantized {
    pub dtype: String,
    pub shape: Vec<u64>,
}

/// How storages are found: by key, in a zip record or a legacy file's storage section.
pub trait StorageSource {
    /// The bytes of storage `key` (the caller checks they are enough for the storage's size).
    fn storage(&mut self, key: &str) -> Result<ByteSource, String>;
}

pub struct TorchHost<'a> {
    source: &'a mut dyn StorageSource,
    big_endian: bool,
    /// Storages already resolved, by key: views of one storage share it.
    storages: HashMap<String, Rc<Storage>>,
}

impl<'a> TorchHost<'a> {
    pub fn new(source: &'a mut dyn StorageSource, big_endian: bool) -> Self {
        TorchHost {
            source,
            big_endian,
            storages: HashMap::new(),
        }
    }
}

/// `torch.FloatStorage` and friends (the typed-storage class names torch pickles).
pub fn storage_dtype(name: &str) -> Option<DType> {
    use DType::*;
    Some(match name {
        "FloatStorage" => F32,
        "DoubleStorage" => F64,
        "HalfStorage" => F16,
        "BFloat16Storage" => BF16,
        "ByteStorage" | "QUInt8Storage" | "UntypedStorage" => U8,
        "CharStorage" | "QInt8Storage" => I8,
        "ShortStorage" => I16,
        "IntStorage" | "QInt32Storage" => I32,
        "LongStorage" => I64,
        "BoolStorage" => Bool,
        "ComplexHalfStorage" => C32,
        "ComplexFloatStorage" => C64,
        "ComplexDoubleStorage" => C128,
        "Float8_e4m3fnStorage" => F8E4M3,
        "Float8_e5m2Storage" => F8E5M2,
        "Float8_e4m3fnuzStorage" => F8E4M3Fnuz,
        "Float8_e5m2fnuzStorage" => F8E5M2Fnuz,
        "Float8_e8m0fnuStorage" => F8E8M0,
        "UInt16Storage" => U16,
        "UInt32Storage" => U32,
        "UInt64Storage" => U64,
        _ => return None,
    })
}

/// `torch.float32` and friends (dtype objects, as `_rebuild_tensor_v3` passes them).
pub fn torch_dtype(name: &str) -> Option<DType> {
    use DType::*;
    Some(match name {
        "float32" | "float" => F32,
        "float64" | "double" => F64,
        "float16" | "half" => F16,
        "bfloat16" => BF16,
        "uint8" => U8,
        "int8" => I8,
        "int16" | "short" => I16,
        "int32" | "int" => I32,
        "int64" | "long" => I64,
        "bool" => Bool,
        "complex32" | "chalf" => C32,
        "complex64" | "cfloat" => C64,
        "complex128" | "cdouble" => C128,
        "float8_e4m3fn" => F8E4M3,
        "float8_e5m2" => F8E5M2,
        "float8_e4m3fnuz" => F8E4M3Fnuz,
        "float8_e5m2fnuz" => F8E5M2Fnuz,
        "float8_e8m0fnu" => F8E8M0,
        "uint16" => U16,
        "uint32" => U32,
        "uint64" => U64,
        _ => return None,
    })
}

fn items(args: &Pv) -> Result<Vec<Pv>, String> {
    match args {
        Pv::Tuple(t) => Ok((**t).clone()),
        Pv::List(l) => Ok(l.borrow().clone()),
        other => Err(format!(
            "expected a tuple of arguments, found a {}",
            super::pickle::kind(other)
        )),
    }
}

fn int(v: &Pv, what: &str) -> Result<u64, String> {
    match v {
        Pv::Int(i) if *i >= 0 && *i <= u64::MAX as i128 => Ok(*i as u64),
        _ => Err(format!("{what} is not a non-negative integer")),
    }
}

fn ints(v: &Pv, what: &str) -> Result<Vec<u64>, String> {
    items(v)?.iter().map(|x| int(x, what)).collect()
}

impl Host for TorchHost<'_> {
    fn persistent_load(&mut self, pid: Pv) -> Result<Pv, String> {
        // ('storage', storage_type, key, location, numel[, view_metadata])
        let parts = items(&pid)?;
        match parts.first() {
            Some(Pv::Str(s)) if &**s == "storage" => {}
            _ => return Err("unknown persistent id (expected a 'storage' reference)".into()),
        }
        let [_, ty, key, _location, numel, ..] = parts.as_slice() else {
            return Err("storage reference has fewer than five fields".into());
        };
        let dtype = match ty {
            Pv::Global(g) => storage_dtype(&g.name)
                .ok_or_else(|| format!("unknown storage type {}", g.path()))?,
            _ => return Err("storage type is not a class".into()),
        };
        let key = match key {
            Pv::Str(k) => k.to_string(),
            Pv::Int(i) => i.to_string(),
            _ => return Err("storage key is not a string".into()),
        };
        let numel = int(numel, "storage size")?;
        let root = match self.storages.get(&key) {
            Some(s) => s.clone(),
            None => {
                let source = self.source.storage(&key)?;
                let needed = dtype.bytes_for(numel).ok_or("storage size overflows")?;
                if (source.len() as u64) < needed {
                    return Err(format!(
                        "storage '{key}' holds {} bytes but {numel} elements of {dtype} need {needed}",
                        source.len()
                    ));
                }
                let storage = Rc::new(Storage { dtype, source });
                self.storages.insert(key, storage.clone());
                storage
            }
        };
        // Legacy files may add (view_key, offset, size): a view of the root storage.
        if let Some(Pv::Tuple(view)) = parts.get(5) {
            let elem = (dtype.bits() / 8).max(1);
            let (offset, size) = match view.as_slice() {
                [_, o, n] => (int(o, "storage view offset")?, int(n, "storage view size")?),
                _ => return Err("malformed storage view".into()),
            };
            let source = offset
                .checked_mul(elem)
                .zip(size.checked_mul(elem))
                .and_then(|(o, n)| root.source.slice(o, n))
                .ok_or("storage view reaches past its storage")?;
            return Ok(Pv::Host(Rc::new(Storage { dtype, source })));
        }
        Ok(Pv::Host(root))
    }

    fn call(&mut self, g: &Global, args: &Pv) -> Option<Result<Pv, String>> {
        let m = g.module.as_str();
        let n = g.name.as_str();
        Some(match (m, n) {
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor" | "_rebuild_tensor_v3") => {
                self.rebuild_tensor(args, n == "_rebuild_tensor_v3")
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => items(args)
                .and_then(|a| {
                    a.into_iter()
                        .next()
                        .ok_or_else(|| "parameter without data".to_string())
                }),
            ("torch._tensor", "_rebuild_from_type_v2") => self.rebuild_from_type(args),
            ("torch._utils", "_rebuild_qtensor") => self.rebuild_qtensor(args),
            ("collections", "OrderedDict") | ("builtins", "dict") => Ok(Pv::Dict(Rc::default())),
            ("torch", "Size") | ("builtins", "tuple") => {
                items(args).map(|a| a.into_iter().next().unwrap_or(Pv::Tuple(Rc::default())))
            }
            ("builtins", "list") => items(args).map(|a| match a.into_iter().next() {
                Some(Pv::List(l)) => Pv::List(l),
                Some(Pv::Tuple(t)) => Pv::List(Rc::new(RefCell::new((*t).clone()))),
                _ => Pv::List(Rc::default()),
            }),
            ("builtins", "set" | "frozenset") => items(args).map(|a| match a.into_iter().next() {
                Some(Pv::List(l)) => Pv::Set(l),
                Some(Pv::Tuple(t)) => Pv::Set(Rc::new(RefCell::new((*t).clone()))),
                _ => Pv::Set(Rc::default()),
            }),
            ("_codecs", "encode") => items(args).map(|a| match a.first() {
                // bytes pickled by Python 3 at protocol 2: encode(str, 'latin1')
                Some(Pv::Str(s)) => Pv::Bytes(
                    s.chars()
                        .map(|c| c as u32 as u8)
                        .collect::<Vec<u8>>()
                        .into(),
                ),
                _ => Pv::Bytes(Rc::from(&[][..])),
            }),
            // TorchScript's typed containers: the value itself.
            (
                "torch.jit._pickle",
                "restore_type_tag" | "build_intlist" | "build_doublelist" | "build_boollist"
                | "build_tensorlist" | "build_list",
            ) => items(args).map(|a| a.into_iter().next().unwrap_or(Pv::None)),
            ("torch", "device") => items(args).map(|a| match a.as_slice() {
                [Pv::Str(kind)] => Pv::Str(kind.clone()),
                [Pv::Str(kind), Pv::Int(i)] => Pv::Str(format!("{kind}:{i}").into()),
                _ => Pv::Str("device".into()),
            }),
            _ => return None,
        })
    }
}

impl TorchHost<'_> {
    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks, …)`;
    /// `_rebuild_tensor_v3` adds the dtype after the hooks (for untyped storages).
    fn rebuild_tensor(&mut self, args: &Pv, v3: bool) -> Result<Pv, String> {
        let a = items(args)?;
        if a.len() < 4 {
            return Err("tensor rebuild with fewer than four arguments".into());
        }
        let storage = match &a[0] {
            Pv::Host(h) => h
                .clone()
                .downcast::<Storage>()
                .map_err(|_| "tensor rebuilt from something that is not a storage".to_string())?,
            _ => return Err("tensor rebuilt from something that is not a storage".into()),
        };
        let offset = int(&a[1], "storage offset")?;
        let shape = ints(&a[2], "tensor size")?;
        let strides = ints(&a[3], "tensor stride")?;
        if strides.len() != shape.len() {
            return Err(format!(
                "tensor size {shape:?} and stride {strides:?} differ in rank"
            ));
        }
        // torch's float4_e2m1fn_x2 packs two E2M1 values in each one-byte element: laid out as
        // bytes here, then shown as F4 with the last dimension doubled (as safetensors does).
        let mut packed_f4 = false;
        let dtype = if v3 {
            match a.get(6) {
                Some(Pv::Global(g)) if g.name == "float4_e2m1fn_x2" => {
                    packed_f4 = true;
                    DType::U8
                }
                Some(Pv::Global(g)) => {
                    torch_dtype(&g.name).ok_or_else(|| format!("unknown dtype {}", g.path()))?
                }
                _ => return Err("_rebuild_tensor_v3 without a dtype".into()),
            }
        } else {
            storage.dtype
        };
        let elem = dtype.bits() / 8;
        if elem == 0 {
            return Err(format!("{dtype} tensors cannot be rebuilt from a storage"));
        }
        let span = strided_span(&shape, &strides, elem).ok_or("tensor view overflows")?;
        let start = offset.checked_mul(elem).ok_or("storage offset overflows")?;
        let source = storage.source.slice(start, span).ok_or_else(|| {
            format!(
                "tensor view (offset {offset}, size {shape:?}, stride {strides:?}) reaches past its storage of {} bytes",
                storage.source.len()
            )
        })?;
        let dense = dense_strides(&shape);
        let is_dense = shape
            .iter()
            .zip(strides.iter().zip(&dense))
            .all(|(&d, (s, c))| d <= 1 || s == c);
        if packed_f4 {
            if !is_dense {
                return Err("strided views of float4_e2m1fn_x2 tensors are not supported".into());
            }
            let mut shape = shape;
            match shape.last_mut() {
                Some(last) => *last *= 2,
                None => shape.push(2),
            }
            return Ok(Pv::Host(Rc::new(Tensor::dense(DType::F4, shape, source))));
        }
        Ok(Pv::Host(Rc::new(Tensor {
            dtype,
            shape,
            source,
            strides: (!is_dense).then_some(strides),
            big_endian: self.big_endian && elem > 1,
        })))
    }

    /// `_rebuild_from_type_v2(func, new_type, args, state)`: tensor subclasses; the data is
    /// `func(*args)`.
    fn rebuild_from_type(&mut self, args: &Pv) -> Result<Pv, String> {
        let a = items(args)?;
        match (a.first(), a.get(2)) {
            (Some(Pv::Global(f)), Some(inner)) => match self.call(f, inner) {
                Some(r) => r,
                None => Err(format!("tensor subclass rebuilt by unknown {}", f.path())),
            },
            _ => Err("malformed _rebuild_from_type_v2".into()),
        }
    }

    /// Quantized tensors keep their dtype name and shape; the values are not decoded.
    fn rebuild_qtensor(&mut self, args: &Pv) -> Result<Pv, String> {
        let a = items(args)?;
        let storage = match a.first() {
            Some(Pv::Host(h)) => h.clone().downcast::<Storage>().ok(),
            _ => None,
        };
        let shape = a
            .get(2)
            .map(|s| ints(s, "size"))
            .transpose()?
            .unwrap_or_default();
        let dtype = match storage.map(|s| s.dtype) {
            Some(DType::I8) => "qint8",
            Some(DType::U8) => "quint8",
            Some(DType::I32) => "qint32",
            _ => "quantized",
        };
        Ok(Pv::Host(Rc::new(Quantized {
            dtype: dtype.to_string(),
            shape,
        })))
    }
}
