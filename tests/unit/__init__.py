"""Unit tests of the pure modules: mapping, values, standard fields, preflight, response, config.

A package so its module names (unit.test_config, ...) cannot clash with same-named test files
that other folders of tests/ may add.
"""
