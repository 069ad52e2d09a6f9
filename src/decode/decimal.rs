//! Exact decimals as canonical text.
//!
//! Connect encodes a decimal as the big-endian two's-complement bytes of its unscaled integer
//! plus a scale. PostgreSQL numerics reach 131072 digits, far beyond `rust_decimal`'s 28, so the
//! conversion here is a plain arbitrary-length base-256 to base-10 change with no rounding.

/// The largest scale magnitude accepted; PostgreSQL's own limit is 16383. The bound keeps a
/// hostile scale from allocating gigabytes of zeros.
const MAX_SCALE: i64 = 32_767;

/// Digits per limb of the base-10^9 accumulator.
const LIMB: u64 = 1_000_000_000;

/// Renders an unscaled big-endian two's-complement integer and a scale as plain decimal text
/// (`-12.340`: trailing zeros kept to the scale, like Java's `BigDecimal.toPlainString`).
pub(crate) fn from_unscaled_bytes(bytes: &[u8], scale: i32) -> Result<String, String> {
    if bytes.is_empty() {
        return Err("decimal has no bytes".into());
    }
    check_scale(i64::from(scale))?;
    let negative = bytes[0] & 0x80 != 0;
    let magnitude = if negative {
        negate(bytes)
    } else {
        bytes.to_vec()
    };
    Ok(place_point(
        negative,
        &to_decimal_digits(&magnitude),
        i64::from(scale),
    ))
}

/// Normalises a JSON number (Connect's `decimal.format=NUMERIC`) to plain text with at least
/// `min_scale` fraction digits. Exponents are expanded; nothing is rounded.
pub(crate) fn from_number_text(text: &str, min_scale: i32) -> Result<String, String> {
    let bad = || format!("not a decimal number: {text:?}");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let exp = unsigned[at + 1..].parse::<i64>().map_err(|_| bad())?;
            (&unsigned[..at], exp)
        }
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(bad());
    }
    // The number is digits * 10^-scale.
    let mut scale = i64::try_from(frac_part.len())
        .ok()
        .and_then(|len| len.checked_sub(exponent))
        .ok_or_else(bad)?;
    check_scale(scale)?;
    let mut digits = format!("{int_part}{frac_part}");
    let min_scale = i64::from(min_scale);
    if scale < min_scale {
        check_scale(min_scale)?;
        digits.extend(std::iter::repeat_n('0', (min_scale - scale) as usize));
        scale = min_scale;
    }
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    Ok(place_point(negative, digits, scale))
}

fn check_scale(scale: i64) -> Result<(), String> {
    if scale.abs() > MAX_SCALE {
        return Err(format!("decimal scale {scale} is out of range"));
    }
    Ok(())
}

/// Two's-complement negation (invert, add one), giving the magnitude of a negative value.
fn negate(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for byte in out.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    out
}

/// Unsigned big-endian bytes to decimal digits, without leading zeros ("0" for zero).
fn to_decimal_digits(magnitude: &[u8]) -> String {
    // Little-endian limbs of 9 decimal digits each.
    let mut limbs: Vec<u32> = Vec::new();
    for &byte in magnitude {
        let mut carry = u64::from(byte);
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * 256 + carry;
            *limb = (v % LIMB) as u32;
            carry = v / LIMB;
        }
        while carry > 0 {
            limbs.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }
    let Some((top, rest)) = limbs.split_last() else {
        return "0".into();
    };
    let mut out = top.to_string();
    for limb in rest.iter().rev() {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

/// Inserts the decimal point `scale` digits from the right (or appends zeros for a negative
/// scale). `digits` has no leading zeros; zero is never negative.
fn place_point(negative: bool, digits: &str, scale: i64) -> String {
    let zero = digits == "0";
    let sign = if negative && !zero { "-" } else { "" };
    if scale <= 0 {
        let zeros = if zero { 0 } else { (-scale) as usize };
        return format!("{sign}{digits}{}", "0".repeat(zeros));
    }
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits.to_string()
    };
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    format!("{sign}{int_part}.{frac_part}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unscaled_bytes_table() {
        let cases: &[(&[u8], i32, &str)] = &[
            (&[0x00], 0, "0"),
            (&[0x00], 2, "0.00"),
            (&[0x04, 0xD2], 2, "12.34"),
            (&[0xFB, 0x2E], 2, "-12.34"),
            (&[0xFF], 0, "-1"),
            (&[0xFF], 3, "-0.001"),
            (&[0x80], 0, "-128"),
            (&[0x00, 0x80], 0, "128"),
            (&[0x05], 2, "0.05"),
            (&[0x0C], -2, "1200"),
            (&[0x00], -2, "0"),
            (&[0x30, 0x39], 5, "0.12345"),
        ];
        for (bytes, scale, want) in cases {
            assert_eq!(from_unscaled_bytes(bytes, *scale).as_deref(), Ok(*want));
        }
    }

    #[test]
    fn forty_digit_values_round_trip() {
        // 10^40 - 1 = 0x1D6329F1C35CA4BFABB9F560FFFFFFFFFF (17 bytes), and its negation.
        let mut bytes = vec![0x00];
        bytes.extend([
            0x1D, 0x63, 0x29, 0xF1, 0xC3, 0x5C, 0xA4, 0xBF, 0xAB, 0xB9, 0xF5, 0x60, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF,
        ]);
        let nines = "9".repeat(40);
        assert_eq!(from_unscaled_bytes(&bytes, 0), Ok(nines.clone()));
        let with_point = format!("{}.{}", "9".repeat(30), "9".repeat(10));
        assert_eq!(from_unscaled_bytes(&bytes, 10), Ok(with_point));
        let neg = negate(&bytes);
        assert_eq!(from_unscaled_bytes(&neg, 0), Ok(format!("-{nines}")));
    }

    #[test]
    fn empty_bytes_and_huge_scale_are_errors() {
        assert!(from_unscaled_bytes(&[], 0).is_err());
        assert!(from_unscaled_bytes(&[1], i32::MAX).is_err());
    }

    #[test]
    fn number_text_table() {
        let cases = [
            ("12.34", 2, "12.34"),
            ("12.3", 2, "12.30"),
            ("-0.5", 0, "-0.5"),
            ("1.2E+3", 0, "1200"),
            ("1.2e3", 2, "1200.00"),
            ("5E-3", 0, "0.005"),
            ("-0", 2, "0.00"),
            ("007", 0, "7"),
        ];
        for (text, scale, want) in cases {
            assert_eq!(from_number_text(text, scale).as_deref(), Ok(want), "{text}");
        }
        for bad in ["", "-", "1.2.3", "abc", "1e", ".5", "1e99999"] {
            assert!(from_number_text(bad, 0).is_err(), "{bad}");
        }
    }
}
