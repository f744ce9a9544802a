//! A pickle interpreter (protocols 0–5) that builds values and never runs code.
//!
//! Callables named by the pickle (`GLOBAL`/`STACK_GLOBAL`) are never looked up or called: a
//! [`Host`] may build a value for the ones it knows (tensor rebuilders, `OrderedDict`, …); any
//! other call becomes an [`Object`] that keeps the class name, the arguments and the state, so
//! what they contain stays reachable. Callables that would run code on load are recorded as
//! security findings.
//!
//! Every size read from the input is checked against the bytes that remain, and the memo, the
//! stack and the number of values built are capped (see the constants), so a hostile pickle
//! costs bounded memory and time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Most memo entries: real checkpoints memoise each object once (a 100k-tensor model needs a few
/// hundred thousand); beyond this a file is abusing the memo.
pub const MAX_MEMO: usize = 4_000_000;
/// Most values on the stack and in marks at once: real pickles stay within a few thousand.
pub const MAX_STACK: usize = 1_000_000;
/// Deepest nesting of marks (an unbalanced MARK flood is refused early).
pub const MAX_MARKS: usize = 100_000;

/// A value under construction. Containers are shared (`Rc`) because the memo can hand out the
/// same object several times, and `APPEND`/`SETITEM`/`BUILD` mutate it in place.
#[derive(Debug, Clone)]
pub enum Pv {
    None,
    Bool(bool),
    Int(i128),
    /// An integer too large for i128, kept as its little-endian two's-complement bytes.
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<Vec<Pv>>),
    List(Rc<RefCell<Vec<Pv>>>),
    Dict(Rc<RefCell<Vec<(Pv, Pv)>>>),
    Set(Rc<RefCell<Vec<Pv>>>),
    /// A reference to a class or function, by name. Never resolved.
    Global(Rc<Global>),
    /// An instance of a class the host does not build itself.
    Object(Rc<RefCell<Object>>),
    /// A value the host built (storages, tensors…), opaque to the interpreter.
    Host(Rc<dyn std::any::Any>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Global {
    pub module: String,
    pub name: String,
}

impl Global {
    pub fn is(&self, module: &str, name: &str) -> bool {
        self.module == module && self.name == name
    }

    pub fn path(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }
}

/// A call the interpreter did not evaluate: `class(*args)`, then `BUILD(state)`, plus any items
/// appended or set on it.
#[derive(Debug, Clone)]
pub struct Object {
    pub class: Global,
    pub args: Pv,
    pub state: Option<Pv>,
    pub list_items: Vec<Pv>,
    pub dict_items: Vec<(Pv, Pv)>,
}

/// What the reader of a pickle-based format supplies.
pub trait Host {
    /// Resolves a persistent id (`PERSID`/`BINPERSID`), e.g. a torch storage reference.
    fn persistent_load(&mut self, pid: Pv) -> Result<Pv, String>;
    /// Builds `callable(*args)` when the host knows the callable; `None` leaves it to the
    /// interpreter, which makes an [`Object`].
    fn call(&mut self, callable: &Global, args: &Pv) -> Option<Result<Pv, String>>;
}

/// Modules and functions whose call would run code or touch the system when unpickled by Python.
const DANGEROUS: &[(&str, Option<&str>)] = &[
    ("os", None),
    ("posix", None),
    ("nt", None),
    ("subprocess", None),
    ("runpy", None),
    ("pty", None),
    ("socket", None),
    ("shutil", None),
    ("importlib", None),
    ("ctypes", None),
    ("commands", None),
    ("sys", None),
    ("builtins", Some("eval")),
    ("builtins", Some("exec")),
    ("builtins", Some("compile")),
    ("builtins", Some("__import__")),
    ("builtins", Some("getattr")),
    ("builtins", Some("setattr")),
    ("builtins", Some("open")),
    ("builtins", Some("breakpoint")),
    ("__builtin__", Some("eval")),
    ("__builtin__", Some("exec")),
    ("__builtin__", Some("execfile")),
    ("__builtin__", Some("getattr")),
    ("__builtin__", Some("__import__")),
    ("__builtin__", Some("open")),
    ("webbrowser", None),
    ("pickle", None),
    ("_pickle", None),
    ("marshal", None),
    ("code", None),
    ("codeop", None),
    ("timeit", None),
    ("pdb", None),
];

/// Whether unpickling a reference to `g` (and calling it) would run code in Python.
pub fn is_dangerous(g: &Global) -> bool {
    let top = g.module.split('.').next().unwrap_or("");
    DANGEROUS
        .iter()
        .any(|(m, n)| (*m == g.module || *m == top) && n.is_none_or(|n| n == g.name))
}

/// Every container a pickle built. A pickle can make a container hold itself (`l.append(l)`),
/// a reference cycle `Rc` never frees: dropping the arena empties every container, which breaks
/// all cycles once the values have been converted.
#[derive(Default)]
pub struct Arena(Vec<Pv>);

impl Drop for Arena {
    fn drop(&mut self) {
        for v in self.0.drain(..) {
            match v {
                Pv::List(l) | Pv::Set(l) => {
                    if let Ok(mut l) = l.try_borrow_mut() {
                        l.clear();
                    }
                }
                Pv::Dict(d) => {
                    if let Ok(mut d) = d.try_borrow_mut() {
                        d.clear();
                    }
                }
                Pv::Object(o) => {
                    if let Ok(mut o) = o.try_borrow_mut() {
                        o.args = Pv::None;
                        o.state = None;
                        o.list_items.clear();
                        o.dict_items.clear();
                    }
                }
                _ => {}
            }
        }
    }
}

/// The result of running a pickle.
pub struct Loaded {
    pub value: Pv,
    /// Keeps the containers until the value is no longer needed; see [`Arena`].
    pub arena: Arena,
    /// Bytes consumed, up to and including STOP (legacy torch files hold several pickles).
    pub consumed: usize,
    /// Callables that would run code in Python, in the order met (each once).
    pub dangerous: Vec<String>,
}

/// Runs one pickle from the start of `data`.
pub fn load(data: &[u8], host: &mut dyn Host) -> Result<Loaded, String> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        dangerous: Vec::new(),
        host,
        arena: Arena::default(),
    };
    let value = m.run();
    let arena = std::mem::take(&mut m.arena);
    Ok(Loaded {
        value: value?,
        arena,
        consumed: m.pos,
        dangerous: m.dangerous,
    })
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Pv>,
    marks: Vec<usize>,
    memo: HashMap<u32, Pv>,
    dangerous: Vec<String>,
    host: &'a mut dyn Host,
    arena: Arena,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "truncated pickle: needs {n} bytes at offset {} but only {} remain",
                    self.pos,
                    self.data.len() - self.pos
                )
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2")))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// A length read from the file, checked against what remains before anything is allocated.
    fn len(&mut self, n: u64) -> Result<usize, String> {
        let remain = (self.data.len() - self.pos) as u64;
        if n > remain {
            return Err(format!(
                "truncated pickle: a length of {n} bytes at offset {} exceeds the {remain} bytes that remain",
                self.pos
            ));
        }
        Ok(n as usize)
    }

    fn line(&mut self) -> Result<&[u8], String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated pickle: a text argument has no end of line")?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }

    fn push(&mut self, v: Pv) -> Result<(), String> {
        if self.stack.len() >= MAX_STACK {
            return Err(format!("pickle stack exceeds {MAX_STACK} values"));
        }
        if matches!(v, Pv::List(_) | Pv::Dict(_) | Pv::Set(_) | Pv::Object(_)) {
            self.arena.0.push(v.clone());
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Result<Pv, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(format!("pickle stack underflow at offset {}", self.pos));
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn top(&mut self) -> Result<&mut Pv, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(format!("pickle stack underflow at offset {}", self.pos));
        }
        Ok(self.stack.last_mut().expect("checked"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Pv>, String> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| format!("pickle has no MARK to pop at offset {}", self.pos))?;
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, idx: u32) -> Result<(), String> {
        let v = self.top()?.clone();
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&idx) {
            return Err(format!("pickle memo exceeds {MAX_MEMO} entries"));
        }
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u32) -> Result<(), String> {
        let v =
            self.memo.get(&idx).cloned().ok_or_else(|| {
                format!("pickle refers to memo entry {idx}, which was never stored")
            })?;
        self.push(v)
    }

    fn global(&mut self, module: String, name: String) -> Result<(), String> {
        let g = Global { module, name };
        if is_dangerous(&g) {
            let p = g.path();
            if !self.dangerous.contains(&p) {
                self.dangerous.push(p);
            }
        }
        self.push(Pv::Global(Rc::new(g)))
    }

    /// `callable(*args)`: the host builds it, or it becomes an [`Object`].
    fn call(&mut self, callable: Pv, args: Pv) -> Result<Pv, String> {
        let g = match callable {
            Pv::Global(g) => g,
            other => {
                return Err(format!(
                    "pickle calls a {} rather than a class or function",
                    kind(&other)
                ))
            }
        };
        if let Some(built) = self.host.call(&g, &args) {
            return built;
        }
        Ok(Pv::Object(Rc::new(RefCell::new(Object {
            class: (*g).clone(),
            args,
            state: None,
            list_items: Vec::new(),
            dict_items: Vec::new(),
        }))))
    }

    fn run(&mut self) -> Result<Pv, String> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                b'(' => {
                    if self.marks.len() >= MAX_MARKS {
                        return Err(format!("pickle nests more than {MAX_MARKS} MARKs"));
                    }
                    self.marks.push(self.stack.len());
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v)?;
                }
                b'F' => {
                    let s = String::from_utf8_lossy(self.line()?).to_string();
                    let f = s
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| format!("pickle FLOAT '{s}' is not a number"))?;
                    self.push(Pv::Float(f))?;
                }
                b'I' => {
                    let s = String::from_utf8_lossy(self.line()?).trim().to_string();
                    let v = match s.as_str() {
                        "00" => Pv::Bool(false),
                        "01" => Pv::Bool(true),
                        _ => Pv::Int(
                            s.parse()
                                .map_err(|_| format!("pickle INT '{s}' is not an integer"))?,
                        ),
                    };
                    self.push(v)?;
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Pv::Int(v as i128))?;
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Pv::Int(v as i128))?;
                }
                b'L' => {
                    let s = String::from_utf8_lossy(self.line()?)
                        .trim()
                        .trim_end_matches('L')
                        .to_string();
                    let v = s.parse::<i128>().map_err(|_| {
                        format!("pickle LONG '{s}' is not an integer (or exceeds 128 bits)")
                    })?;
                    self.push(Pv::Int(v))?;
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Pv::Int(v as i128))?;
                }
                b'N' => self.push(Pv::None)?,
                b'P' => {
                    let s = String::from_utf8_lossy(self.line()?).to_string();
                    let v = self.host.persistent_load(Pv::Str(s.into()))?;
                    self.push(v)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.host.persistent_load(pid)?;
                    self.push(v)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(callable, args)?;
                    self.push(v)?;
                }
                b'S' => {
                    let raw = self.line()?.to_vec();
                    self.push(Pv::Bytes(unquote(&raw).into()))?;
                }
                b'T' => {
                    let n = self.u32()? as u64;
                    let n = self.len(n)?;
                    let b = self.take(n)?.to_vec();
                    self.push(Pv::Bytes(b.into()))?;
                }
                b'U' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Pv::Bytes(b.into()))?;
                }
                b'V' => {
                    let s = String::from_utf8_lossy(self.line()?).to_string();
                    self.push(Pv::Str(unescape_raw_unicode(&s).into()))?;
                }
                b'X' => {
                    let n = self.u32()? as u64;
                    self.str_of_len(n)?;
                }
                b'\x8c' => {
                    let n = self.u8()? as u64;
                    self.str_of_len(n)?;
                }
                b'\x8d' => {
                    let n = self.u64()?;
                    self.str_of_len(n)?;
                }
                b'B' => {
                    let n = self.u32()? as u64;
                    self.bytes_of_len(n)?;
                }
                b'C' => {
                    let n = self.u8()? as u64;
                    self.bytes_of_len(n)?;
                }
                b'\x8e' | b'\x96' => {
                    let n = self.u64()?;
                    self.bytes_of_len(n)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let target = self.top()?.clone();
                    append(&target, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    append(&target, items)?;
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?.clone();
                    build(&target, state)?;
                }
                b'c' => {
                    let module = String::from_utf8_lossy(self.line()?).to_string();
                    let name = String::from_utf8_lossy(self.line()?).to_string();
                    self.global(module, name)?;
                }
                b'\x93' => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Pv::Str(m), Pv::Str(n)) => self.global(m.to_string(), n.to_string())?,
                        _ => return Err("pickle STACK_GLOBAL needs two strings".into()),
                    }
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let d = Rc::new(RefCell::new(pairs(items)?));
                    self.push(Pv::Dict(d))?;
                }
                b'}' => self.push(Pv::Dict(Rc::default()))?,
                b'u' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    set_items(&target, pairs(items)?)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let target = self.top()?.clone();
                    set_items(&target, vec![(k, v)])?;
                }
                b'g' => {
                    let s = String::from_utf8_lossy(self.line()?).to_string();
                    let idx = s
                        .trim()
                        .parse::<u32>()
                        .map_err(|_| format!("pickle GET '{s}' is not an index"))?;
                    self.memo_get(idx)?;
                }
                b'h' => {
                    let idx = self.u8()? as u32;
                    self.memo_get(idx)?;
                }
                b'j' => {
                    let idx = self.u32()?;
                    self.memo_get(idx)?;
                }
                b'p' => {
                    let s = String::from_utf8_lossy(self.line()?).to_string();
                    let idx = s
                        .trim()
                        .parse::<u32>()
                        .map_err(|_| format!("pickle PUT '{s}' is not an index"))?;
                    self.memo_put(idx)?;
                }
                b'q' => {
                    let idx = self.u8()? as u32;
                    self.memo_put(idx)?;
                }
                b'r' => {
                    let idx = self.u32()?;
                    self.memo_put(idx)?;
                }
                b'\x94' => {
                    let idx = self.memo.len() as u32;
                    self.memo_put(idx)?;
                }
                b'i' => {
                    let module = String::from_utf8_lossy(self.line()?).to_string();
                    let name = String::from_utf8_lossy(self.line()?).to_string();
                    let args = self.pop_mark()?;
                    self.global(module, name)?;
                    let callable = self.pop()?;
                    let v = self.call(callable, Pv::Tuple(Rc::new(args)))?;
                    self.push(v)?;
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err("pickle OBJ without a class".into());
                    }
                    let callable = items.remove(0);
                    let v = self.call(callable, Pv::Tuple(Rc::new(items)))?;
                    self.push(v)?;
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Pv::List(Rc::new(RefCell::new(items))))?;
                }
                b']' => self.push(Pv::List(Rc::default()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Pv::Tuple(Rc::new(items)))?;
                }
                b')' => self.push(Pv::Tuple(Rc::default()))?,
                b'\x85' | b'\x86' | b'\x87' => {
                    let n = (op - 0x84) as usize;
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() < floor + n {
                        return Err(format!("pickle stack underflow at offset {at}"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Pv::Tuple(Rc::new(items)))?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().expect("8"));
                    self.push(Pv::Float(v))?;
                }
                b'\x80' => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(format!("unsupported pickle protocol {proto}"));
                    }
                }
                b'\x81' => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, args)?;
                    self.push(v)?;
                }
                b'\x92' => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, Pv::Tuple(Rc::new(vec![args, kwargs])))?;
                    self.push(v)?;
                }
                b'\x82' | b'\x83' | b'\x84' => {
                    let code = match op {
                        b'\x82' => self.u8()? as u32,
                        b'\x83' => self.u16()? as u32,
                        _ => self.u32()?,
                    };
                    self.global("copyreg.extension".into(), code.to_string())?;
                }
                b'\x88' => self.push(Pv::Bool(true))?,
                b'\x89' => self.push(Pv::Bool(false))?,
                b'\x8a' => {
                    let n = self.u8()? as u64;
                    self.long_of_len(n)?;
                }
                b'\x8b' => {
                    let n = self.u32()? as u64;
                    self.long_of_len(n)?;
                }
                b'\x8f' => self.push(Pv::Set(Rc::default()))?,
                b'\x90' => {
                    let items = self.pop_mark()?;
                    match self.top()?.clone() {
                        Pv::Set(s) => s.borrow_mut().extend(items),
                        other => return Err(format!("pickle ADDITEMS on a {}", kind(&other))),
                    }
                }
                b'\x91' => {
                    let items = self.pop_mark()?;
                    self.push(Pv::Set(Rc::new(RefCell::new(items))))?;
                }
                b'\x95' => {
                    self.u64()?; // FRAME: a length hint only
                }
                b'\x97' => {
                    return Err(
                        "pickle uses out-of-band buffers (NEXT_BUFFER), which files cannot carry"
                            .into(),
                    )
                }
                b'\x98' => {} // READONLY_BUFFER: no effect on the value
                other => {
                    return Err(format!(
                        "unknown pickle opcode 0x{other:02x} at offset {at}"
                    ));
                }
            }
        }
    }

    fn str_of_len(&mut self, n: u64) -> Result<(), String> {
        let n = self.len(n)?;
        let s = String::from_utf8_lossy(self.take(n)?).to_string();
        self.push(Pv::Str(s.into()))
    }

    fn bytes_of_len(&mut self, n: u64) -> Result<(), String> {
        let n = self.len(n)?;
        let b = self.take(n)?.to_vec();
        self.push(Pv::Bytes(b.into()))
    }

    fn long_of_len(&mut self, n: u64) -> Result<(), String> {
        let n = self.len(n)?;
        let b = self.take(n)?;
        let v = if n == 0 {
            Pv::Int(0)
        } else if n <= 16 {
            let fill = if b[n - 1] & 0x80 != 0 { 0xFF } else { 0 };
            let mut buf = [fill; 16];
            buf[..n].copy_from_slice(b);
            Pv::Int(i128::from_le_bytes(buf))
        } else {
            Pv::BigInt(b.to_vec().into())
        };
        self.push(v)
    }
}

/// The Python kind of a value, for messages.
pub fn kind(v: &Pv) -> &'static str {
    match v {
        Pv::None => "None",
        Pv::Bool(_) => "bool",
        Pv::Int(_) | Pv::BigInt(_) => "int",
        Pv::Float(_) => "float",
        Pv::Str(_) => "str",
        Pv::Bytes(_) => "bytes",
        Pv::Tuple(_) => "tuple",
        Pv::List(_) => "list",
        Pv::Dict(_) => "dict",
        Pv::Set(_) => "set",
        Pv::Global(_) => "class or function",
        Pv::Object(_) => "object",
        Pv::Host(_) => "built value",
    }
}

fn pairs(items: Vec<Pv>) -> Result<Vec<(Pv, Pv)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("pickle dictionary items come in an odd number".into());
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn append(target: &Pv, items: Vec<Pv>) -> Result<(), String> {
    match target {
        Pv::List(l) => l.borrow_mut().extend(items),
        Pv::Object(o) => o.borrow_mut().list_items.extend(items),
        Pv::Set(s) => s.borrow_mut().extend(items),
        other => return Err(format!("pickle appends to a {}", kind(other))),
    }
    Ok(())
}

fn set_items(target: &Pv, items: Vec<(Pv, Pv)>) -> Result<(), String> {
    match target {
        Pv::Dict(d) => {
            let mut d = d.borrow_mut();
            for (k, v) in items {
                match d.iter_mut().find(|(old, _)| same_key(old, &k)) {
                    Some(slot) => slot.1 = v,
                    None => d.push((k, v)),
                }
            }
        }
        Pv::Object(o) => o.borrow_mut().dict_items.extend(items),
        other => return Err(format!("pickle sets items on a {}", kind(other))),
    }
    Ok(())
}

/// Dictionary key identity for the kinds of keys checkpoints use (strings and numbers).
fn same_key(a: &Pv, b: &Pv) -> bool {
    match (a, b) {
        (Pv::Str(x), Pv::Str(y)) => x == y,
        (Pv::Int(x), Pv::Int(y)) => x == y,
        (Pv::Bytes(x), Pv::Bytes(y)) => x == y,
        _ => false,
    }
}

fn build(target: &Pv, state: Pv) -> Result<(), String> {
    match target {
        Pv::Object(o) => {
            o.borrow_mut().state = Some(state);
            Ok(())
        }
        // Host values (tensors) may receive attributes (a Parameter's state), and dicts too
        // (a state dict's `_metadata` version bookkeeping): attributes, not contents.
        Pv::Host(_) | Pv::Dict(_) => Ok(()),
        other => Err(format!("pickle BUILD on a {}", kind(other))),
    }
}

/// Protocol 0 `S'…'` strings: quoted Python literals with backslash escapes.
fn unquote(raw: &[u8]) -> Vec<u8> {
    let inner = match raw {
        [q, body @ .., e] if (q == &b'\'' || q == &b'"') && q == e => body,
        _ => raw,
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c == b'\\' && i + 1 < inner.len() {
            let n = inner[i + 1];
            i += 2;
            match n {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'\\' => out.push(b'\\'),
                b'\'' => out.push(b'\''),
                b'"' => out.push(b'"'),
                b'x' if i + 2 <= inner.len() => {
                    let hex = std::str::from_utf8(&inner[i..i + 2]).unwrap_or("");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Protocol 0 `V…` strings use raw-unicode-escape: `\uXXXX` and `\UXXXXXXXX`.
fn unescape_raw_unicode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('u') | Some('U')) {
            let width = if chars.next() == Some('u') { 4 } else { 8 };
            let hex: String = chars.by_ref().take(width).collect();
            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                Some(ch) => out.push(ch),
                None => {
                    out.push('\\');
                    out.push_str(&hex);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoHost;
    impl Host for NoHost {
        fn persistent_load(&mut self, _: Pv) -> Result<Pv, String> {
            Err("no persistent ids here".into())
        }
        fn call(&mut self, _: &Global, _: &Pv) -> Option<Result<Pv, String>> {
            None
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn run(h: &str) -> Loaded {
        load(&hex(h), &mut NoHost).expect("loads")
    }

    fn dict(v: &Pv) -> Vec<(String, Pv)> {
        match v {
            Pv::Dict(d) => d
                .borrow()
                .iter()
                .map(|(k, v)| match k {
                    Pv::Str(s) => (s.to_string(), v.clone()),
                    _ => panic!("string keys"),
                })
                .collect(),
            other => panic!("not a dict: {}", kind(other)),
        }
    }

    // Pickles written by CPython's `pickle.dumps({'a': 1, 'b': [1.5, 'x'], 'c': (True, None)})`.
    #[test]
    fn the_same_dict_in_protocols_0_2_and_5() {
        for h in [
            "286470300a56610a70310a49310a7356620a70320a286c70330a46312e350a6156780a70340a617356630a70350a284930310a4e7470360a732e",
            "80027d71002858010000006171014b0158010000006271025d710328473ff80000000000005801000000787104655801000000637105884e867106752e",
            "80059528000000000000007d94288c0161944b018c0162945d9428473ff80000000000008c017894658c016394884e8694752e",
        ] {
            let l = run(h);
            assert_eq!(l.consumed, h.len() / 2);
            let d = dict(&l.value);
            assert_eq!(d.len(), 3);
            assert!(matches!(d[0].1, Pv::Int(1)));
            match &d[1].1 {
                Pv::List(items) => {
                    let items = items.borrow();
                    assert!(matches!(items[0], Pv::Float(f) if f == 1.5));
                    assert!(matches!(&items[1], Pv::Str(s) if &**s == "x"));
                }
                other => panic!("{}", kind(other)),
            }
            match &d[2].1 {
                Pv::Tuple(t) => assert!(matches!((&t[0], &t[1]), (Pv::Bool(true), Pv::None))),
                other => panic!("{}", kind(other)),
            }
        }
    }

    #[test]
    fn long_integers() {
        let l = run("80025d7100288a090000000000000000408a0d000000000000000000000000f08a1a0000000000000000000000000000000000000000000000000001652e");
        match &l.value {
            Pv::List(items) => {
                let items = items.borrow();
                assert!(matches!(items[0], Pv::Int(v) if v == 1i128 << 70));
                assert!(matches!(items[1], Pv::Int(v) if v == -(1i128 << 100)));
                assert!(matches!(items[2], Pv::BigInt(_)));
            }
            other => panic!("{}", kind(other)),
        }
    }

    #[test]
    fn memo_shares_objects() {
        // [l, l] with l = [1, 2]: both entries are the same list.
        let l = run("8004950f000000000000005d94285d94284b014b02656801652e");
        match &l.value {
            Pv::List(items) => {
                let items = items.borrow();
                match (&items[0], &items[1]) {
                    (Pv::List(a), Pv::List(b)) => assert!(Rc::ptr_eq(a, b)),
                    _ => panic!("two lists"),
                }
            }
            other => panic!("{}", kind(other)),
        }
    }

    #[test]
    fn unknown_classes_become_objects_and_nothing_runs() {
        // OrderedDict([('x', 1), ('y', b'\x00\x01')]) at protocol 2: REDUCE of a global, then
        // SETITEMS on the result; bytes via _codecs.encode.
        let l = run("800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000007871024b015801000000797103635f636f646563730a656e636f64650a710458020000000001710558060000006c6174696e317106867107527108752e");
        match &l.value {
            Pv::Object(o) => {
                let o = o.borrow();
                assert!(o.class.is("collections", "OrderedDict"));
                assert_eq!(o.dict_items.len(), 2);
                assert!(
                    matches!(&o.dict_items[1].1, Pv::Object(e) if e.borrow().class.is("_codecs", "encode"))
                );
            }
            other => panic!("{}", kind(other)),
        }
        assert!(l.dangerous.is_empty());
    }

    #[test]
    fn dangerous_callables_are_recorded_not_called() {
        // cos\nsystem\n(S'touch /tmp/x'\ntR.
        let p = b"cos\nsystem\n(S'touch /tmp/x'\ntR.";
        let l = load(p, &mut NoHost).unwrap();
        assert_eq!(l.dangerous, vec!["os.system"]);
        assert!(matches!(&l.value, Pv::Object(o) if o.borrow().class.is("os", "system")));
    }

    #[test]
    fn hostile_inputs_are_errors() {
        for (p, needle) in [
            (&b"\x80\x02h\x05."[..], "never stored"),
            (&b"\x80\x02a."[..], "underflow"),
            (&b"\x80\x02B\x00\x00\x00\x80abc."[..], "exceeds the"),
            (&b"\x80\x02(((((("[..], "truncated"),
            (&b"\x80\x09."[..], "protocol 9"),
            (&b"\x80\x02\xff"[..], "unknown pickle opcode 0xff"),
        ] {
            let err = load(p, &mut NoHost).err().expect("an error");
            assert!(err.contains(needle), "{err}");
        }
    }
}
