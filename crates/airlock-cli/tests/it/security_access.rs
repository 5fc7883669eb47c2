//! Regression tests for attacks found by hostile testing.
