"""Shim so Beam's --setup_file can package gap-replay for remote workers; metadata lives in setup.cfg."""

from setuptools import setup

setup()
