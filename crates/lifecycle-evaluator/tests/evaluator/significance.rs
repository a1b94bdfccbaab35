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
