"""Build-time layout only (everything else is in pyproject.toml).

The shipped top-level folders stay where they are in the repository and are mapped into the wheel
as `harness/_shipped/<name>/`, where harness/locations.py finds them with importlib.resources.
"""

from setuptools import find_packages, setup

SHIPPED = {  # package -> source folder; keep in step with harness.locations.shipped()
    "harness._shipped.device_profiles": "device_profiles",
    "harness._shipped.firmware": "firmware",
    "harness._shipped.health_check": "models/digits-cnn",
}

setup(
    packages=find_packages(include=["harness", "harness.*"]) + list(SHIPPED),
    package_dir=SHIPPED,
    package_data={
        "harness": ["report/templates/*.j2", "cycles/tables/*.yaml", "results/migrations/versions/*.py"],
        "harness._shipped.device_profiles": ["*.yaml"],
        "harness._shipped.firmware": ["**/*"],
        "harness._shipped.health_check": ["health-check.json", "tiny-int8.tflite", "eval.npz"],
    },
    exclude_package_data={"harness._shipped.firmware": ["build/**", "**/build/**"]},
)
