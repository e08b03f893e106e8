"""Pretrained networks released by other projects, loaded as foleyzoo parts.

Each subpackage reads one project's released files (checked against a manifest of their keys, shapes and
published hashes before anything is built), converts the keys with a table and returns plugins that
compute what the original code computes. foleyzoo ships and uploads no weights: the user downloads them
under the original licence.
"""
