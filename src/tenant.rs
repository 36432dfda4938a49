//! A municipality of a shared PostgreSQL database (SPEC §13): its 全国地方公共団体コード, checked
//! once when it is parsed, so that everything holding a `TenantCode` holds a valid one. Pure:
//! the store keeps the tenants, the CLI reads the flag.

use std::fmt;

/// The 6-digit 全国地方公共団体コード (JIS X 0402 with its 検査数字): two digits of the
/// prefecture (JIS X 0401, 01–47), three of the municipality, one check digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantCode(String);

/// The check digit of the first five digits: weights 6, 5, 4, 3, 2, the sum modulo 11, and
/// the last digit of 11 minus that remainder (remainder 0 gives 1, remainder 1 gives 0).
fn check_digit(first5: &[u8]) -> u8 {
    let sum: u32 = first5
        .iter()
        .zip([6u32, 5, 4, 3, 2])
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ((11 - sum % 11) % 10) as u8
}

impl TenantCode {
    /// `Err` is the sentence after `--code: ` (or `--tenant: `), saying what was expected.
    pub fn parse(s: &str) -> Result<TenantCode, String> {
        let b = s.as_bytes();
        if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
            return Err(format!(
                "expected a 6-digit 全国地方公共団体コード such as 131016 (千代田区), got {s:?}"
            ));
        }
        let prefecture = (b[0] - b'0') * 10 + (b[1] - b'0');
        if !(1..=47).contains(&prefecture) {
            return Err(format!(
                "expected a 全国地方公共団体コード whose first two digits are a prefecture (01–47), got {s:?}"
            ));
        }
        let want = check_digit(&b[..5]);
        if b[5] - b'0' != want {
            return Err(format!(
                "expected a 全国地方公共団体コード with a valid check digit (検査数字), got {s:?} (the check digit of {} is {want})",
                &s[..5]
            ));
        }
        Ok(TenantCode(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefecture's two digits (`01` 北海道 … `47` 沖縄県).
    pub fn prefecture(&self) -> &str {
        &self.0[..2]
    }
}

impl fmt::Display for TenantCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_codes_are_accepted() {
        // 函館市, 旭川市, 千代田区, 大阪市, 大津市, 横浜市, and the two remainders whose check
        // digit wraps: 苫小牧市 (remainder 0 → 1) and 室蘭市 (remainder 1 → 0).
        for code in [
            "012025", "012041", "131016", "271004", "252018", "141003", "012131", "012050",
        ] {
            assert_eq!(
                TenantCode::parse(code).map(|c| c.to_string()),
                Ok(code.into())
            );
        }
    }

    #[test]
    fn a_wrong_check_digit_is_refused_and_the_right_one_named() {
        let e = TenantCode::parse("131017").unwrap_err();
        assert!(e.contains("check digit of 13101 is 6"), "{e}");
        for bad in ["012026", "271000", "252019", "012130", "012051"] {
            assert!(TenantCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn five_digits_letters_full_width_and_no_prefecture_are_refused() {
        for bad in [
            "13101",
            "1310166",
            "13101a",
            "１３１０１６",
            "",
            " 131016",
            "000000",
            "481003",
        ] {
            assert!(TenantCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_five_digits_have_exactly_one_check_digit() {
        for five in ["01100", "13101", "27100", "47999", "10000"] {
            let ok = (0..10)
                .filter(|d| TenantCode::parse(&format!("{five}{d}")).is_ok())
                .count();
            assert_eq!(ok, 1, "{five}");
        }
    }
}
