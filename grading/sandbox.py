"""Where the graded modules are imported from, and the course's environment around them.

Each question is graded in a scratch folder laid out as the course lays out a submission: the student's
files of that question beside the helper files the course supplies itself (kit copies: the course's
layers.py from reference/, the repository's course-style solver.py, optim.py, ...). Nothing else from the
student's folder is used. A second folder holds the question's model (cnn.py / rnn.py) beside the kit's
reference layers, for the advisory second run.

The course runs Python 3.10 with NumPy 1.x, Matplotlib and cvxopt only: the student's files may not import
anything else (the import fails, as it would there; guarded imports take their fallback), and the names NumPy
2.0 removed are restored while grading, so that code the course ran still runs (a WARN says so).
"""
import ast
import importlib
import importlib.abc
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
QUESTIONS = {"cnn": ("cnn_layers", "cnn"), "rnn": ("rnn_layers", "rnn"), "svm": ("svm",)}
SUBMITTED = tuple(m for modules in QUESTIONS.values() for m in modules)
MODELS = {"cnn": "cnn_layers", "rnn": "rnn_layers"}       # model module -> the layer module it is graded beside
# Supplied by the course beside the submission (layers.py is the course's own: the kit's reference copy).
COURSE_HELPERS = ("layers.py", "solver.py", "optim.py", "gradient_check.py", "coco_utils.py",
                  "captioning_solver.py", "image_utils.py")
COURSE_PACKAGES = {"numpy", "matplotlib", "mpl_toolkits", "cvxopt"}
COURSE_ENVIRONMENT = "the course's autograder has only NumPy, Matplotlib and cvxopt (Python 3.10)"


def question_of(module):
    return next(q for q, modules in QUESTIONS.items() if module in modules)


def helper_source(name):
    """The kit's copy of a course helper file: the course's own layers.py from reference/, the others from the
    repository (course-style, holding only what the course's file of that name holds)."""
    reference = REFERENCE_DIR / name
    return reference if reference.is_file() else ROOT / name


def build_folders(source, scratch, question):
    """Lay out ``question``'s grading folders under ``scratch``; returns {'submission': Path, 'models': Path}.
    Submitted modules missing from ``source`` are simply absent (the checks that need them say so)."""
    folders = {kind: Path(scratch) / question / kind for kind in ("submission", "models")}
    for folder in folders.values():
        folder.mkdir(parents=True)
        for helper in COURSE_HELPERS:
            if helper_source(helper).is_file():
                shutil.copy2(helper_source(helper), folder / helper)
    for module in QUESTIONS[question]:
        if (Path(source) / f"{module}.py").is_file():
            shutil.copy2(Path(source) / f"{module}.py", folders["submission"] / f"{module}.py")
            if module in MODELS:
                shutil.copy2(Path(source) / f"{module}.py", folders["models"] / f"{module}.py")
                shutil.copy2(REFERENCE_DIR / f"{MODELS[module]}.py", folders["models"] / f"{MODELS[module]}.py")
    return folders


def import_isolated(folder, name):
    """Import ``name`` from ``folder`` with its sibling imports (layers, cnn_layers, ...) resolved in that folder,
    then give sys.modules back its previous entries (the module keeps references to what it imported)."""
    siblings = {Path(f).stem for f in COURSE_HELPERS} | set(SUBMITTED)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k in siblings}
    saved_path = list(sys.path)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved_path
        for k in [k for k in sys.modules if k in siblings]:
            del sys.modules[k]
        sys.modules.update(saved)


_REFERENCES = {}


def reference(name):
    """The kit's reference implementation of a course module (reference/NAME.py), under a private name."""
    if name not in _REFERENCES:
        spec = importlib.util.spec_from_file_location(f"_hw4_reference_{name}", REFERENCE_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _REFERENCES[name] = module
    return _REFERENCES[name]


# ---------------------------------------------------------------------------------------------------------
# The course's environment: only NumPy, Matplotlib and cvxopt for the student's files
# ---------------------------------------------------------------------------------------------------------
class CourseEnvironment(importlib.abc.MetaPathFinder):
    """Refuses imports that a student's file makes of anything the course's environment lacks (the kit's own
    imports, and a library's imports of its own parts, are not affected)."""

    def __init__(self, student_files):
        self.student_files = {str(Path(f).resolve()) for f in student_files}

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in COURSE_PACKAGES or top in sys.stdlib_module_names or top in _local_modules():
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        if frame is not None and str(Path(frame.f_code.co_filename).resolve()) in self.student_files:
            raise ModuleNotFoundError(f"No module named {name!r}: {COURSE_ENVIRONMENT}", name=name)
        return None


def _local_modules():
    return {Path(f).stem for f in COURSE_HELPERS} | set(SUBMITTED)


def enter_course_environment(student_files):
    """From now on in this process: the student's files import only what the course has, and NumPy 2.0's
    removed names exist again (see NUMPY2_REMOVED). Returns the finder (its student_files can be changed)."""
    finder = CourseEnvironment(student_files)
    sys.meta_path.insert(0, finder)
    for name, value in NUMPY2_REMOVED.items():
        if not hasattr(np, name):
            setattr(np, name, value[0])
    return finder


def _asfarray(a, dtype=np.float64):
    return np.asarray(a, dtype=dtype if np.dtype(dtype).kind in "fc" else np.float64)


# name -> (what NumPy 1.x gave, how to write it for NumPy 1.x and 2.x alike)
NUMPY2_REMOVED = {
    "float_": (np.float64, "np.float64"), "complex_": (np.complex128, "np.complex128"),
    "cfloat": (np.complex128, "np.complex128"), "longfloat": (np.longdouble, "np.longdouble"),
    "singlecomplex": (np.complex64, "np.complex64"), "longcomplex": (np.clongdouble, "np.clongdouble"),
    "clongfloat": (np.clongdouble, "np.clongdouble"), "string_": (np.bytes_, "np.bytes_"),
    "unicode_": (np.str_, "np.str_"), "Inf": (np.inf, "np.inf"), "Infinity": (np.inf, "np.inf"),
    "infty": (np.inf, "np.inf"), "PINF": (np.inf, "np.inf"), "NINF": (-np.inf, "-np.inf"),
    "NaN": (np.nan, "np.nan"), "PZERO": (0.0, "0.0"), "NZERO": (-0.0, "-0.0"),
    "product": (np.prod, "np.prod"), "cumproduct": (np.cumprod, "np.cumprod"),
    "sometrue": (np.any, "np.any"), "alltrue": (np.all, "np.all"), "round_": (np.round, "np.round"),
    "asfarray": (_asfarray, "np.asarray(a, dtype=np.float64)"), "mat": (np.asmatrix, "np.asmatrix"),
}


def numpy2_removals(path):
    """[(line, 'np.NAME', replacement)] for the names NumPy 2.0 removed that the file at ``path`` uses."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return []
    aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names if a.name == "numpy"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and node.attr in NUMPY2_REMOVED:
            found.append((node.lineno, f"{node.value.id}.{node.attr}", NUMPY2_REMOVED[node.attr][1]))
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy":
            found += [(node.lineno, f"from numpy import {a.name}", NUMPY2_REMOVED[a.name][1])
                      for a in node.names if a.name in NUMPY2_REMOVED]
    return sorted(set(found))
