"""Checks that the Python side of the test suite (boto3, the AWS CLI, pytest) is importable,
installing what is missing with pip; CI machines come with them preinstalled."""
import importlib.util
import shutil
import subprocess
import sys

missing = [name for name in ("boto3", "pytest") if importlib.util.find_spec(name) is None]
if shutil.which("aws") is None:
    missing.append("awscli")
if missing:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *missing])
