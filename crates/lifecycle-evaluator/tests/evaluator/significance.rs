//! The significance tests agree with SciPy on the fixed data sets of
//! tests/fixtures/significance (see generate.py there for how they were made).

use lifecycle_evaluator::significance::{hodges_lehmann, mann_whitney, normal_sf, two_proportions};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/significance/reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(got: f64, want: f64, relative: f64, what: &str) {
    assert!(
        (got - want).abs() <= relative * want.abs().max(1e-300),
        "{what}: got {got}, SciPy {want}"
    );
}

#[test]
fn mann_whitney_and_hodges_lehmann_match_scipy() {
    let cases = reference()["mann_whitney"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (numbers(&case["x"]), numbers(&case["y"]));
        let test = mann_whitney(&x, &y).unwrap();
        assert_eq!(test.u, case["u"].as_f64().unwrap(), "{name}: U");
        close(
            test.p_value,
            case["p"].as_f64().unwrap(),
            1e-6,
            &format!("{name}: p"),
        );
        let shift = hodges_lehmann(&x, &y).unwrap();
        close(
            shift.estimate,
            case["hl_estimate"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: HL"),
        );
        close(
            shift.low,
            case["hl_low"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: HL low"),
        );
        close(
            shift.high,
            case["hl_high"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: HL high"),
        );
    }
    assert!(mann_whitney(&[], &[1.0]).is_none());
    assert!(hodges_lehmann(&[1.0], &[]).is_none());
}

#[test]
fn two_proportion_z_tests_match_scipy() {
    for case in reference()["two_proportions"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let n = |k: &str| case[k].as_u64().unwrap();
        let test = two_proportions(n("f1"), n("n1"), n("f2"), n("n2")).unwrap();
        close(
            test.z,
            case["z"].as_f64().unwrap(),
            1e-12,
            &format!("{name}: z"),
        );
        close(
            test.p_value,
            case["p"].as_f64().unwrap(),
            1e-6,
            &format!("{name}: p"),
        );
    }
    assert!(two_proportions(1, 0, 1, 10).is_none());
}

#[test]
fn the_normal_tail_is_accurate_far_out() {
    // Reference values of the standard normal survival function.
    close(normal_sf(0.0), 0.5, 1e-7, "sf(0)");
    close(normal_sf(1.959963984540054), 0.025, 1e-6, "sf(1.96)");
    close(normal_sf(5.0), 2.866515718791939e-7, 1e-6, "sf(5)");
    close(normal_sf(-3.0), 0.9986501019683699, 1e-7, "sf(-3)");
}

/// The order statistics of every pairwise difference, sorted: what the
/// shift must equal exactly, however it is computed.
fn brute_force(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let mut d: Vec<f64> = y
        .iter()
        .flat_map(|b| x.iter().map(move |a| b - a))
        .collect();
    d.sort_by(f64::total_cmp);
    let m = d.len();
    let median = if m % 2 == 1 {
        d[m / 2]
    } else {
        (d[m / 2 - 1] + d[m / 2]) / 2.0
    };
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let k =
        (n1 * n2 / 2.0 - 1.959_963_984_540_054 * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor();
    let k = (k.max(1.0) as usize).min(m);
    (median, d[k - 1], d[m - k])
}

#[test]
fn the_shift_is_the_exact_order_statistic_of_all_differences() {
    let mut r = crate::common::Random(11);
    for (n1, n2, ties) in [
        (1, 1, false),
        (7, 3, true),
        (40, 55, false),
        (300, 257, true),
    ] {
        let draw = |r: &mut crate::common::Random| {
            let v = (6.0 + r.normal()).exp();
            if ties {
                v.round()
            } else {
                v
            }
        };
        let x: Vec<f64> = (0..n1).map(|_| draw(&mut r)).collect();
        let y: Vec<f64> = (0..n2).map(|_| draw(&mut r) * 1.1).collect();
        let shift = hodges_lehmann(&x, &y).unwrap();
        let (median, low, high) = brute_force(&x, &y);
        assert_eq!(
            (shift.estimate, shift.low, shift.high),
            (median, low, high),
            "{n1}x{n2}"
        );
    }
}
