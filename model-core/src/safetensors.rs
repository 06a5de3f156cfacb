//! The `safetensors` file format, read from and written to bytes (no file system, so the web build
//! can load Hugging Face weights too): an 8-byte little-endian header length, a JSON header
//! mapping tensor names to dtype, shape and byte range, then the raw little-endian data.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    #[error("not a safetensors file: {0}")]
    Format(String),
    #[error("tensor `{0}` is missing")]
    Missing(String),
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("tensor `{name}` has dtype {dtype}; only F32, F16 and BF16 are supported")]
    DType { name: String, dtype: String },
}

#[derive(Debug, Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// A parsed file borrowing its bytes.
pub struct SafeTensors<'a> {
    entries: HashMap<String, Entry>,
    data: &'a [u8],
}

impl<'a> SafeTensors<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SafetensorsError> {
        let fmt = |m: String| SafetensorsError::Format(m);
        let head: [u8; 8] = bytes
            .get(..8)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| fmt(format!("{} bytes is too short for a header", bytes.len())))?;
        let n = usize::try_from(u64::from_le_bytes(head))
            .map_err(|_| fmt("header length does not fit in memory".into()))?;
        let header = bytes
            .get(8..8usize.saturating_add(n))
            .ok_or_else(|| fmt(format!("header of {n} bytes runs past the end of the file")))?;
        let raw: HashMap<String, serde_json::Value> = serde_json::from_slice(header)
            .map_err(|e| fmt(format!("header is not a JSON object: {e}")))?;
        let data = &bytes[8 + n..];
        let mut entries = HashMap::new();
        for (name, v) in raw {
            if name == "__metadata__" {
                continue;
            }
            let e: Entry = serde_json::from_value(v)
                .map_err(|e| fmt(format!("header entry `{name}`: {e}")))?;
            let [start, end] = e.data_offsets;
            let width = dtype_width(&e.dtype).unwrap_or(1);
            let elems = e.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            let size_known = dtype_width(&e.dtype).is_some();
            if start > end
                || end > data.len()
                || (size_known && elems.and_then(|k| k.checked_mul(width)) != Some(end - start))
            {
                return Err(fmt(format!(
                    "tensor `{name}`: byte range {start}..{end} does not hold {:?} {} values in {} data bytes",
                    e.shape,
                    e.dtype,
                    data.len()
                )));
            }
            entries.insert(name, e);
        }
        Ok(Self { entries, data })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entries.get(name).map(|e| e.shape.as_slice())
    }

    /// The tensor `name` as f32 values, checked against `expected` shape.
    pub fn f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, SafetensorsError> {
        let e = self
            .entries
            .get(name)
            .ok_or_else(|| SafetensorsError::Missing(name.to_string()))?;
        if e.shape != expected {
            return Err(SafetensorsError::Shape {
                name: name.to_string(),
                found: e.shape.clone(),
                expected: expected.to_vec(),
            });
        }
        let raw = &self.data[e.data_offsets[0]..e.data_offsets[1]];
        let two = |c: &[u8]| u16::from_le_bytes([c[0], c[1]]);
        Ok(match e.dtype.as_str() {
            "F32" => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            "F16" => raw
                .chunks_exact(2)
                .map(|c| burn::tensor::f16::from_bits(two(c)).to_f32())
                .collect(),
            "BF16" => raw
                .chunks_exact(2)
                .map(|c| burn::tensor::bf16::from_bits(two(c)).to_f32())
                .collect(),
            other => {
                return Err(SafetensorsError::DType {
                    name: name.to_string(),
                    dtype: other.to_string(),
                });
            }
        })
    }
}

fn dtype_width(dtype: &str) -> Option<usize> {
    match dtype {
        "F64" | "I64" | "U64" => Some(8),
        "F32" | "I32" | "U32" => Some(4),
        "F16" | "BF16" | "I16" | "U16" => Some(2),
        "I8" | "U8" | "BOOL" => Some(1),
        _ => None,
    }
}

/// `(name, shape, row-major values)`.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// A safetensors file of f32 tensors, names in sorted order.
pub fn serialize_f32(tensors: &[NamedTensor]) -> Vec<u8> {
    let mut sorted: Vec<&NamedTensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = BTreeMap::new();
    let mut offset = 0usize;
    for (name, shape, values) in &sorted {
        let end = offset + values.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    header.insert(
        "__metadata__".to_string(),
        serde_json::json!({ "format": "pt" }),
    );
    let mut head = serde_json::to_vec(&header).unwrap_or_default();
    // The data start is kept 8-byte aligned, as the reference writer does.
    while (8 + head.len()) % 8 != 0 {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + offset);
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&head);
    for (_, _, values) in sorted {
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_tensors_read_as_f32() {
        let vals = [1.5f32, -0.25];
        let mut data = Vec::new();
        for v in vals {
            data.extend(burn::tensor::f16::from_f32(v).to_le_bytes());
        }
        for v in vals {
            data.extend(burn::tensor::bf16::from_f32(v).to_le_bytes());
        }
        data.extend([0u8; 8]);
        let head = br#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"i":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#;
        let mut bytes = (head.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(head);
        bytes.extend(data);
        let st = SafeTensors::parse(&bytes).unwrap();
        assert_eq!(st.f32("h", &[2]).unwrap(), vals);
        assert_eq!(st.f32("b", &[2]).unwrap(), vals);
        let e = st.f32("i", &[1]).unwrap_err().to_string();
        assert!(e.contains("`i`") && e.contains("I64"), "{e}");
    }

    #[test]
    fn written_files_read_back_and_bad_input_is_named() {
        let bytes = serialize_f32(&[
            ("b".into(), vec![2], vec![3.0, 4.0]),
            ("a".into(), vec![1, 2], vec![1.0, -2.5]),
        ]);
        let st = SafeTensors::parse(&bytes).unwrap();
        assert_eq!(st.f32("a", &[1, 2]).unwrap(), vec![1.0, -2.5]);
        assert_eq!(st.f32("b", &[2]).unwrap(), vec![3.0, 4.0]);
        let shape = st.f32("a", &[2]).unwrap_err().to_string();
        assert!(shape.contains("`a`") && shape.contains("[1, 2]"), "{shape}");
        assert!(
            st.f32("c", &[1])
                .unwrap_err()
                .to_string()
                .contains("`c` is missing")
        );
        assert!(SafeTensors::parse(&bytes[..5]).is_err());
        assert!(SafeTensors::parse(&bytes[..bytes.len() - 4]).is_err());
        let mut bad = bytes.clone();
        bad[8] = b'!';
        assert!(SafeTensors::parse(&bad).is_err());
    }
}
