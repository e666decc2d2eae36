//! The values that cross between Rust and either database: SQLite's storage classes.

use std::borrow::Cow;

/// A value going into or coming out of a statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Int(_) => "an integer",
            ValueRef::Real(_) => "a real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "a blob",
        }
    }
}

/// An owned [`ValueRef`] (what Postgres rows decode into when they must be converted).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Int(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Value {
        match v {
            ValueRef::Null => Value::Null,
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(s) => Value::Text(s.to_string()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

pub(crate) fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Result<ValueRef<'_>, String> {
    use rusqlite::types::ValueRef as S;
    Ok(match v {
        S::Null => ValueRef::Null,
        S::Integer(i) => ValueRef::Int(i),
        S::Real(f) => ValueRef::Real(f),
        S::Text(t) => {
            ValueRef::Text(std::str::from_utf8(t).map_err(|e| format!("text is not UTF-8: {e}"))?)
        }
        S::Blob(b) => ValueRef::Blob(b),
    })
}

impl rusqlite::ToSql for ValueRef<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as S};
        Ok(ToSqlOutput::Borrowed(match *self {
            ValueRef::Null => S::Null,
            ValueRef::Int(i) => S::Integer(i),
            ValueRef::Real(f) => S::Real(f),
            ValueRef::Text(s) => S::Text(s.as_bytes()),
            ValueRef::Blob(b) => S::Blob(b),
        }))
    }
}

/// A Rust value that can be a statement parameter.
pub trait ToParam {
    fn to_param(&self) -> ValueRef<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn to_param(&self) -> ValueRef<'_> {
                // Counts and sizes beyond i64 don't occur; saturate rather than wrap if one did.
                ValueRef::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_param!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl ToParam for bool {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Int(i64::from(*self))
    }
}
impl ToParam for f64 {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Real(*self)
    }
}
impl ToParam for f32 {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Real(f64::from(*self))
    }
}
impl ToParam for str {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Text(self)
    }
}
impl ToParam for String {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Text(self)
    }
}
impl ToParam for Cow<'_, str> {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Text(self)
    }
}
impl ToParam for [u8] {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Blob(self)
    }
}
impl ToParam for Vec<u8> {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Blob(self)
    }
}
impl<const N: usize> ToParam for [u8; N] {
    fn to_param(&self) -> ValueRef<'_> {
        ValueRef::Blob(self)
    }
}
impl ToParam for ValueRef<'_> {
    fn to_param(&self) -> ValueRef<'_> {
        *self
    }
}
impl ToParam for Value {
    fn to_param(&self) -> ValueRef<'_> {
        self.as_ref()
    }
}
impl<T: ToParam> ToParam for Option<T> {
    fn to_param(&self) -> ValueRef<'_> {
        match self {
            Some(v) => v.to_param(),
            None => ValueRef::Null,
        }
    }
}
impl<T: ToParam + ?Sized> ToParam for &T {
    fn to_param(&self) -> ValueRef<'_> {
        (**self).to_param()
    }
}
impl<T: ToParam + ?Sized> ToParam for Box<T> {
    fn to_param(&self) -> ValueRef<'_> {
        (**self).to_param()
    }
}

/// A statement's parameters: `[]`, `[a]`, `[a, b]` of one type, `params![...]`, or a slice.
pub trait Params {
    fn values(&self) -> Vec<ValueRef<'_>>;
}

impl Params for [&dyn ToParam; 0] {
    fn values(&self) -> Vec<ValueRef<'_>> {
        Vec::new()
    }
}

impl Params for () {
    fn values(&self) -> Vec<ValueRef<'_>> {
        Vec::new()
    }
}

impl<T: ToParam> Params for &[T] {
    fn values(&self) -> Vec<ValueRef<'_>> {
        self.iter().map(|p| p.to_param()).collect()
    }
}

impl<T: ToParam> Params for &Vec<T> {
    fn values(&self) -> Vec<ValueRef<'_>> {
        self.iter().map(|p| p.to_param()).collect()
    }
}

impl<T: ToParam> Params for Vec<T> {
    fn values(&self) -> Vec<ValueRef<'_>> {
        self.iter().map(|p| p.to_param()).collect()
    }
}

macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToParam> Params for [T; $n] {
            fn values(&self) -> Vec<ValueRef<'_>> {
                self.iter().map(|p| p.to_param()).collect()
            }
        }
        impl<T: ToParam> Params for &[T; $n] {
            fn values(&self) -> Vec<ValueRef<'_>> {
                self.iter().map(|p| p.to_param()).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

/// A Rust value a column can be read as; the same rules on both backends (rusqlite's rules:
/// an integer reads as a real, a real never silently as an integer).
pub trait FromCol: Sized {
    fn from_col(v: ValueRef<'_>) -> Result<Self, String>;
}

fn wrong(v: ValueRef<'_>, want: &str) -> String {
    format!("holds {}, expected {want}", v.kind())
}

macro_rules! int_col {
    ($($t:ty),*) => {$(
        impl FromCol for $t {
            fn from_col(v: ValueRef<'_>) -> Result<Self, String> {
                match v {
                    ValueRef::Int(i) => <$t>::try_from(i)
                        .map_err(|_| format!("{i} is out of range for {}", stringify!($t))),
                    other => Err(wrong(other, "an integer")),
                }
            }
        }
    )*};
}
int_col!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl FromCol for bool {
    fn from_col(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Int(i) => Ok(i != 0),
            other => Err(wrong(other, "an integer (0 or 1)")),
        }
    }
}

impl FromCol for f64 {
    fn from_col(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Real(f) => Ok(f),
            ValueRef::Int(i) => Ok(i as f64),
            other => Err(wrong(other, "a number")),
        }
    }
}

impl FromCol for String {
    fn from_col(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Text(s) => Ok(s.to_string()),
            other => Err(wrong(other, "text")),
        }
    }
}

impl FromCol for Vec<u8> {
    fn from_col(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            ValueRef::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(wrong(other, "a blob")),
        }
    }
}

impl FromCol for Value {
    fn from_col(v: ValueRef<'_>) -> Result<Self, String> {
        Ok(v.into())
    }
}

impl<T: FromCol> FromCol for Option<T> {
    fn from_col(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Null => Ok(None),
            other => T::from_col(other).map(Some),
        }
    }
}
