"""COCO captioning data: preparation, loading, minibatches, decoding, images.

Two datasets in the same file format (the CS231n layout), so the loader and the notebook do not care
which one they read:

- Real: the CS231n ``coco_captioning.zip`` (~1 GB) unzipped to ``data/coco_captioning/``: COCO 2014
  captions as word ids, VGG-16 fc7 image features reduced to 512-d by PCA, image URLs.
- Offline default: ``data/coco_captioning_mnist/``, built here from real MNIST digits (the MNIST source
  of data_utils): strips of 1-3 digits captioned with their digit words (``<START> seven two nine
  <END>`` padded with ``<NULL>``), 512-d PCA features of the pixels, the strips saved as PNGs whose
  relative paths fill the urls files.

Files of a dataset folder:
- coco2014_captions.h5: train_captions (N, 17) int32, train_image_idxs (N,) int32, val_captions,
  val_image_idxs (caption i describes image image_idxs[i] of its split).
- train2014_vgg16_fc7_pca.h5 / val2014_vgg16_fc7_pca.h5: dataset ``features`` (num_images, 512) float32
  (``*_vgg16_fc7.h5``: the 4096-d features, real data only).
- coco2014_vocab.json: ``idx_to_word`` (list) and ``word_to_idx`` (dict); <NULL>=0 <START>=1 <END>=2 <UNK>=3.
- train2014_urls.txt / val2014_urls.txt: one image URL (or path relative to the folder) per line.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

import data_utils
from data_utils import DataUnavailableError

COCO_URL = 'http://cs231n.stanford.edu/coco_captioning.zip'
COCO_DIR = Path('data/coco_captioning')
MNIST_COCO_DIR = Path('data/coco_captioning_mnist')
COCO_SOURCE = 'CS231n COCO 2014 captioning data (VGG-16 fc7 features, PCA to 512-d)'

CAPTIONS_FILE = 'coco2014_captions.h5'
VOCAB_FILE = 'coco2014_vocab.json'
CAPTION_KEYS = ('train_captions', 'train_image_idxs', 'val_captions', 'val_image_idxs')
SOURCE_FILE = 'SOURCE.txt'      # written by the MNIST builder only; names the dataset
MAX_TRAIN_SEED = 231            # fixed seed of load_coco_data's max_train subsample

SPECIAL_TOKENS = ('<NULL>', '<START>', '<END>', '<UNK>')
DIGIT_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
MNIST_FORMAT_VERSION = 1


def _feature_file(split, pca_features):
    return f'{split}2014_vgg16_fc7{"_pca" if pca_features else ""}.h5'


def _urls_file(split):
    return f'{split}2014_urls.txt'


def required_files(pca_features=True):
    """Names of the files load_coco_data reads from a dataset folder."""
    return (CAPTIONS_FILE, VOCAB_FILE, _feature_file('train', pca_features), _feature_file('val', pca_features),
            _urls_file('train'), _urls_file('val'))


def _has_dataset(base_dir):
    return all((Path(base_dir) / name).is_file() for name in required_files())


def _missing_data_message(base_dir, what):
    return (f'{what}\nTo get the data: run {data_utils.MAKE_DATA} (or `coco_utils.prepare_coco_data()` in Python), '
            f'which downloads {COCO_URL} (~1 GB) or builds the offline MNIST stand-in in '
            f'{data_utils.display_path(MNIST_COCO_DIR)}/; or download the zip by hand and unzip it so that '
            f'{data_utils.display_path(Path(base_dir) / CAPTIONS_FILE)} exists.')


def _is_standin(base_dir):
    return (Path(base_dir) / SOURCE_FILE).is_file()


def _damage_fix(base_dir):
    """What to do about a damaged file of ``base_dir``: the generated stand-in is rebuilt, real data re-unpacked."""
    if _is_standin(base_dir):
        return (f'this folder is the generated offline stand-in: run {data_utils.MAKE_DATA} and it is rebuilt '
                f'(or delete {data_utils.display_path(base_dir)}/ first)')
    return (f'delete it and run {data_utils.MAKE_DATA} (the missing file is unpacked again from '
            f'{data_utils.display_path(Path(base_dir).parent / "coco_captioning.zip")}, downloaded if absent)')


def _read_data_file(path, base_dir, read):
    """``read(path)`` for a file of the dataset in ``base_dir``; DataUnavailableError naming the file and the fix
    when it is missing, not a file, or cannot be read."""
    if not path.exists():
        raise DataUnavailableError(_missing_data_message(base_dir, f'Missing file {data_utils.display_path(path)}.'))
    if not path.is_file():
        raise data_utils.misplaced_error(path, 'a data file')
    try:
        return read(path)
    except Exception as exc:  # h5py: OSError, KeyError or RuntimeError; json and text: ValueError (decoding)
        raise data_utils.unreadable_error(path, exc, _damage_fix(base_dir)) from exc


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------

def _read_h5(path, base_dir, keys=None, load=True):
    """Dict of every dataset in the h5 file at ``path`` (checking that ``keys`` are among them).

    load=False only opens the file and lists its datasets (values None): the quick readability check."""
    import h5py

    def read(path):
        with h5py.File(path, 'r') as f:
            return {key: np.asarray(f[key]) if load else None for key in f.keys()}

    arrays = _read_data_file(path, base_dir, read)
    for key in keys or ():
        if key not in arrays:
            raise DataUnavailableError(_missing_data_message(
                base_dir, f'{data_utils.display_path(path)} has no dataset {key!r} (it has {sorted(arrays)}): the file '
                          f'is incomplete or not the CS231n one.'))
    return arrays


def _read_vocab(path, base_dir):
    vocab = _read_data_file(path, base_dir, lambda path: json.loads(path.read_text(encoding='utf-8')))
    for key in ('idx_to_word', 'word_to_idx'):
        if not isinstance(vocab, dict) or key not in vocab:
            raise DataUnavailableError(_missing_data_message(
                base_dir, f'{data_utils.display_path(path)} has no key {key!r}.'))
    return vocab


def _read_urls(path, base_dir):
    """(num_images,) str array of the lines of a urls file."""
    return _read_data_file(path, base_dir, lambda path: np.asarray(
        [line.strip() for line in path.read_text(encoding='utf-8').splitlines()]))


def dataset_problem(base_dir, pca_features=True):
    """None when ``base_dir`` holds a complete, readable dataset; else (kind, message).

    kind is 'missing' (the folder or some files are absent: unpacking the zip can fill them in) or 'damaged'
    (a file is there but cannot be read, or a folder sits where a file belongs: the message says what to do).
    Quick: the h5 files are opened and their datasets listed, not read."""
    base_dir = Path(base_dir)
    shown = data_utils.display_path(base_dir)
    if not base_dir.exists():
        return 'missing', f'{shown}/ does not exist.'
    if not base_dir.is_dir():
        return 'damaged', str(data_utils.misplaced_error(base_dir, 'the dataset folder', found='a file'))
    missing = []
    try:
        for name in required_files(pca_features):
            path = base_dir / name
            if not path.exists():
                missing.append(name)
            elif name.endswith('.h5'):
                _read_h5(path, base_dir, CAPTION_KEYS if name == CAPTIONS_FILE else ('features',), load=False)
            elif name == VOCAB_FILE:
                _read_vocab(path, base_dir)
            else:
                _read_urls(path, base_dir)
    except DataUnavailableError as exc:
        return 'damaged', str(exc)
    if missing:
        return 'missing', f'{shown}/ is incomplete: {", ".join(missing)} missing.'
    return None


def load_coco_data(base_dir='data/coco_captioning', max_train=None, pca_features=True):
    """Load a captioning dataset folder (real COCO or the MNIST stand-in).

    Inputs:
    - base_dir: the dataset folder (see the module docstring for its files).
    - max_train: keep only this many training captions (with their image ids), drawn without
      replacement with a fixed seed (MAX_TRAIN_SEED), so the subset is the same in every run; the
      features of all images are kept. None keeps all.
    - pca_features: read the 512-d PCA features (True) or the raw fc7 features (False, real data only).

    Returns a dict:
    - train_captions (N, T+1) int32, train_image_idxs (N,) int32, val_captions, val_image_idxs: the
      datasets of coco2014_captions.h5 (every dataset of that file is copied);
    - train_features (num_train_images, D) float32, val_features (num_val_images, D);
    - idx_to_word (list of str), word_to_idx (dict str -> int);
    - train_urls (num_train_images,) str array, val_urls.
    Raises data_utils.DataUnavailableError (naming the file and how to get it) when the folder, a file
    or a dataset is missing or a file cannot be read (truncated, damaged, a folder in its place), and
    ValueError for a bad max_train.
    """
    base_dir = Path(base_dir)
    if not base_dir.is_dir():
        raise DataUnavailableError(_missing_data_message(
            base_dir, f'Dataset folder {data_utils.display_path(base_dir)} does not exist.'))
    data = _read_h5(base_dir / CAPTIONS_FILE, base_dir, CAPTION_KEYS)
    for split in ('train', 'val'):
        features_file = base_dir / _feature_file(split, pca_features)
        data[f'{split}_features'] = _read_h5(features_file, base_dir, ('features',))['features']
    vocab = _read_vocab(base_dir / VOCAB_FILE, base_dir)
    data['idx_to_word'], data['word_to_idx'] = vocab['idx_to_word'], vocab['word_to_idx']
    for split in ('train', 'val'):
        data[f'{split}_urls'] = _read_urls(base_dir / _urls_file(split), base_dir)

    _check_consistency(data, base_dir)

    if max_train is not None:
        if isinstance(max_train, bool) or not isinstance(max_train, (int, np.integer)) or max_train < 1:
            raise ValueError(f'max_train must be a positive integer or None, got {max_train!r}')
        num_train = data['train_captions'].shape[0]
        if max_train < num_train:
            keep = np.sort(np.random.default_rng(MAX_TRAIN_SEED).choice(num_train, max_train, replace=False))
            data['train_captions'] = data['train_captions'][keep]
            data['train_image_idxs'] = data['train_image_idxs'][keep]
    return data


def _check_consistency(data, base_dir):
    """Shapes that must agree between the files of one dataset folder."""
    for split in ('train', 'val'):
        captions, idxs = data[f'{split}_captions'], data[f'{split}_image_idxs']
        features, urls = data[f'{split}_features'], data[f'{split}_urls']
        problems = []
        if captions.ndim != 2 or idxs.shape != (captions.shape[0],):
            problems.append(f'{split}_captions {captions.shape} and {split}_image_idxs {idxs.shape} '
                            f'should be (N, T+1) and (N,)')
        if features.ndim != 2 or urls.shape != (features.shape[0],):
            problems.append(f'{split}_features {features.shape} and {split}_urls {urls.shape} should be '
                            f'(num_images, D) and (num_images,)')
        elif idxs.size and (idxs.min() < 0 or idxs.max() >= features.shape[0]):
            problems.append(f'{split}_image_idxs point outside the {features.shape[0]} images')
        if problems:
            raise DataUnavailableError(_missing_data_message(
                base_dir, f'Inconsistent files in {data_utils.display_path(base_dir)}: ' + '; '.join(problems) + '.'))


def dataset_source(base_dir):
    """One line naming the dataset in ``base_dir``: the MNIST stand-in says so in SOURCE.txt."""
    marker = Path(base_dir) / SOURCE_FILE
    lines = marker.read_text(errors='replace').strip().splitlines() if marker.is_file() else []
    return lines[0] if lines else COCO_SOURCE


# ----------------------------------------------------------------------------------------------
# Minibatches and decoding
# ----------------------------------------------------------------------------------------------

def sample_coco_minibatch(data, batch_size=100, split='train', seed=None):
    """Draw a random minibatch of captions (with replacement) with their image features and URLs.

    Inputs:
    - data: dict from load_coco_data.
    - batch_size: B, number of captions.
    - split: 'train' or 'val'.
    - seed: None draws from the global np.random stream (seed it for repeatable training); an int
      (0 included) draws from its own generator, so the same seed gives the same minibatch.

    Returns a tuple of:
    - captions: (B, T+1) int word ids.
    - image_features: (B, D) features of each caption's image.
    - urls: (B,) str, each caption's image URL (or path relative to the dataset folder).
    """
    if split not in ('train', 'val'):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
    keys = [f'{split}_{name}' for name in ('captions', 'image_idxs', 'features', 'urls')]
    missing = [key for key in keys if key not in data]
    if missing:
        raise ValueError(f'data is missing {missing}; use the dict returned by load_coco_data')
    all_captions = data[f'{split}_captions']
    if all_captions.shape[0] == 0:
        raise ValueError(f'data[{split + "_captions"!r}] is empty')
    rng = np.random if seed is None else np.random.default_rng(seed)
    picks = rng.choice(all_captions.shape[0], batch_size)
    image_idxs = data[f'{split}_image_idxs'][picks]
    return all_captions[picks], data[f'{split}_features'][image_idxs], data[f'{split}_urls'][image_idxs]


def decode_captions(captions, idx_to_word):
    """Turn word ids into text: <NULL> is skipped and a caption ends after its <END>.

    Inputs:
    - captions: int word ids, shape (T,) for one caption or (N, T) for several.
    - idx_to_word: list or dict mapping id -> word.

    Returns a str for a 1-D input, a list of N str for a 2-D input. An id read before a caption's <END> that
    is outside the vocabulary (negative, or >= len(idx_to_word)) is a ValueError naming it.
    """
    captions = np.asarray(captions)
    if captions.dtype.kind not in 'iu':
        raise TypeError(f'captions must hold integer word ids, got dtype {captions.dtype}')
    if captions.ndim not in (1, 2):
        raise ValueError(f'captions must be 1-D (T,) or 2-D (N, T), got shape {captions.shape}')

    vocab_size = len(idx_to_word)

    def lookup(idx):
        # A negative id would silently index a list from its end; ids are 0..V-1 (or a dict's keys).
        try:
            if idx < 0 or (not isinstance(idx_to_word, dict) and idx >= vocab_size):
                raise IndexError
            return idx_to_word[idx]
        except (KeyError, IndexError):
            raise ValueError(f'captions hold word id {idx}, outside the vocabulary: idx_to_word has {vocab_size} '
                             f'words (ids 0..{vocab_size - 1})') from None

    def decode_one(ids):
        words = []
        for idx in ids.tolist():
            word = lookup(idx)
            if word != '<NULL>':
                words.append(word)
            if word == '<END>':
                break
        return ' '.join(words)

    if captions.ndim == 1:
        return decode_one(captions)
    return [decode_one(row) for row in captions]


# ----------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------

def image_from_url(url, base_dir=None, timeout=5):
    """The image at ``url`` as a uint8 array (H, W) or (H, W, C), or None when it cannot be had.

    ``url`` is an http(s) URL (fetched with a short timeout; never in offline mode, HW4_OFFLINE=1) or
    a file path, relative to ``base_dir`` when given. Dead links, missing files and undecodable bytes
    return None (callers show a placeholder), never raise.
    """
    import io
    from PIL import Image

    url = str(url)
    try:
        if url.startswith(('http://', 'https://')):
            if data_utils.offline():
                return None
            import urllib.request
            with urllib.request.urlopen(url, timeout=timeout) as response:
                payload = io.BytesIO(response.read())
        else:
            path = Path(url)
            if base_dir is not None and not path.is_absolute():
                path = Path(base_dir) / path
            payload = path
        with Image.open(payload) as image:
            return np.asarray(image.convert('RGB') if image.mode not in ('L', 'RGB') else image).copy()
    except Exception:  # any network, file or decoding failure means "no image"
        return None


# ----------------------------------------------------------------------------------------------
# Preparation: real data, else the offline MNIST stand-in
# ----------------------------------------------------------------------------------------------

def prepare_coco_data(base_dir=COCO_DIR, standin_dir=MNIST_COCO_DIR):
    """Return the folder of a ready captioning dataset, getting one if needed.

    1. ``base_dir`` when it holds the real CS231n files and they open;
    2. else, when ``base_dir`` or some of its files are absent and not offline (HW4_OFFLINE=1), download
       coco_captioning.zip (~1 GB, progress bar; no hash is published, so the downloaded file's sha256 is
       printed for the record) next to ``base_dir`` and unpack it: into a temporary folder renamed to
       ``base_dir`` when that does not exist, else only the missing files are moved in (files already there
       are never replaced or removed);
    3. else the MNIST stand-in in ``standin_dir``, built if absent and rebuilt if outdated or damaged (it is
       generated here), with a loud notice naming why the real data was not used. A damaged real file (or a
       folder where a file belongs) is never repaired or removed: the notice names it and the fix.
    Returns a pathlib.Path. Raises DataUnavailableError when the stand-in cannot be written (read-only data/)
    or its folder holds files the builder does not write.
    """
    base_dir, standin_dir = Path(base_dir), Path(standin_dir)
    problem = dataset_problem(base_dir)
    if problem is None:
        return base_dir
    kind, reason = problem
    if kind == 'missing':
        try:
            zip_path = data_utils.fetch_file(COCO_URL, base_dir.parent / 'coco_captioning.zip',
                                             description='CS231n COCO captioning data (coco_captioning.zip, ~1 GB)',
                                             timeout=30)
            _unzip_dataset(zip_path, base_dir)
            problem = dataset_problem(base_dir)
            if problem is None:
                return base_dir
            reason = problem[1]
        except DataUnavailableError as exc:
            reason = (reason + '\n' if base_dir.exists() else '') + str(exc)

    standin_problem = _standin_problem(standin_dir)
    if standin_problem is not None:
        if standin_dir.exists() or standin_dir.is_symlink():
            print(f'{standin_problem}\n{data_utils.display_path(standin_dir)}/ is generated here, so it is rebuilt '
                  f'now ...', flush=True)
        else:
            print(f'Building the offline MNIST captioning stand-in in {data_utils.display_path(standin_dir)}/ ...',
                  flush=True)
        build_mnist_captioning(standin_dir)
    data_utils.announce(
        f'COCO captioning data is not available:\n{reason}\n\nUSING THE OFFLINE DEFAULT: '
        f'{data_utils.display_path(standin_dir)}\n{dataset_source(standin_dir)}.\nIt has the COCO file format, so '
        f'the same code runs on it; losses and captions are not comparable with COCO results.')
    return standin_dir


def _unzip_dataset(zip_path, base_dir):
    """Unpack the zip into a temporary folder next to ``base_dir``, then move the folder holding
    coco2014_captions.h5 to ``base_dir`` (when absent) or move its files that ``base_dir`` lacks into it."""
    zip_path, base_dir = Path(zip_path), Path(base_dir)
    shown_zip = data_utils.display_path(zip_path)
    with data_utils.writing_data(base_dir, 'the unpacked COCO captioning data'):
        base_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f'.{base_dir.name}.unzip-', suffix='.tmp', dir=base_dir.parent))
    try:
        print(f'Unzipping {shown_zip} ...', flush=True)
        try:
            with data_utils.writing_data(base_dir, 'the unpacked COCO captioning data'), \
                    zipfile.ZipFile(zip_path) as archive:
                archive.extractall(tmp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError, ValueError,
                NotImplementedError) as exc:
            raise DataUnavailableError(f'Could not unzip {shown_zip} ({data_utils.error_summary(exc)}); it is '
                                       f'truncated or damaged: delete it and run {data_utils.MAKE_DATA} (it is '
                                       f'downloaded again).') from exc
        found = sorted(tmp.rglob(CAPTIONS_FILE))
        if not found or not _has_dataset(found[0].parent):
            raise DataUnavailableError(f'{shown_zip} does not hold the files {required_files()}; delete it '
                                       f'and run {data_utils.MAKE_DATA} (it is downloaded again from {COCO_URL}).')
        source = found[0].parent
        if not (base_dir.exists() or base_dir.is_symlink()):
            with data_utils.atomic_dir(base_dir) as new_dir:
                _move_missing(source, new_dir)
            print(f'Unpacked into {data_utils.display_path(base_dir)}/', flush=True)
            return
        added = _move_missing(source, base_dir)
        print(f'{data_utils.display_path(base_dir)}/ already existed: moved in the files it lacked '
              f'({", ".join(added) or "none"}); files already there were left as they are.', flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # our temporary folder (what is left of the unpacked zip)


def _move_missing(source, target):
    """Move the entries of the folder ``source`` that ``target`` lacks into ``target``; return their names."""
    moved = []
    for item in sorted(source.iterdir()):
        if not ((target / item.name).exists() or (target / item.name).is_symlink()):
            os.rename(item, target / item.name)
            moved.append(item.name)
    return moved


_GENERATED_ENTRY = re.compile(r'^(?:images|images/(?:train|val)2014_\d{6}\.png|'
                              + '|'.join(re.escape(name) for name in (*required_files(), SOURCE_FILE)) + ')$')


def _foreign_entries(folder):
    """Entries of ``folder`` (relative paths) that build_mnist_captioning does not write."""
    folder = Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob('*')
                  if not _GENERATED_ENTRY.match(p.relative_to(folder).as_posix()) or p.is_symlink())


def _is_generated_standin(folder):
    return Path(folder).is_dir() and not _foreign_entries(folder)


def _standin_problem(standin_dir):
    """None when ``standin_dir`` holds a current, readable stand-in; else why it must be (re)built."""
    standin_dir = Path(standin_dir)
    shown = data_utils.display_path(standin_dir)
    if not standin_dir.exists():
        return f'{shown}/ does not exist.'
    marker = standin_dir / SOURCE_FILE
    if not marker.is_file() or f'format version {MNIST_FORMAT_VERSION}' not in marker.read_text(errors='replace'):
        return f'{shown}/ was not built by this version of coco_utils.py (see {SOURCE_FILE}).'
    problem = dataset_problem(standin_dir)
    if problem is not None:
        return problem[1]
    for split in ('train', 'val'):
        for url in _read_urls(standin_dir / _urls_file(split), standin_dir):
            image = standin_dir / url
            if not image.is_file() or image.stat().st_size == 0:
                return f'{data_utils.display_path(image)} is missing or empty.'
    return None


def _digit_strips(images, labels, num_strips, max_digits, rng):
    """Random strips of 1..max_digits digits.

    Returns tiles (num_strips, max_digits, 28, 28) uint8 (all zero after the end of a strip), lengths
    (num_strips,) int and digits (num_strips, max_digits) int (-1 after the end of a strip).
    """
    lengths = rng.integers(1, max_digits + 1, size=num_strips)
    picks = rng.integers(0, images.shape[0], size=(num_strips, max_digits))
    used = np.arange(max_digits)[None, :] < lengths[:, None]
    tiles = np.where(used[:, :, None, None], images[picks], 0).astype(np.uint8)
    digits = np.where(used, labels[picks], -1)
    return tiles, lengths, digits


def _strip_image(tiles, length):
    """The (28, 28 * length) picture of one strip from its (max_digits, 28, 28) tiles."""
    return np.concatenate(list(tiles[:length]), axis=1)


def _digit_pca(images, num_components, max_fit=10000):
    """Mean (784,) and top principal directions (784, num_components) of MNIST digit pixels in [0, 1]."""
    pixels = images[:max_fit].reshape(min(len(images), max_fit), -1).astype(np.float64) / 255.0
    mean = pixels.mean(axis=0)
    centered = pixels - mean
    eigenvalues, eigenvectors = np.linalg.eigh(centered.T @ centered)
    return mean, eigenvectors[:, np.argsort(eigenvalues)[::-1][:num_components]]


def _strip_features(tiles, mean, directions, slot_dims):
    """Block-PCA features: slot j of a strip contributes the first slot_dims[j] PCA codes of its digit.

    tiles (S, max_digits, 28, 28) uint8 -> (S, sum(slot_dims)) float64 (an empty slot codes a blank tile).
    """
    S, max_digits = tiles.shape[:2]
    codes = (tiles.reshape(S, max_digits, -1) / 255.0 - mean) @ directions    # (S, max_digits, K)
    return np.concatenate([codes[:, j, :dims] for j, dims in enumerate(slot_dims)], axis=1)


def _captions(digits, word_to_idx, caption_length):
    """<START> digit words <END> <NULL>... as int32 (num_strips, caption_length)."""
    num_strips, max_digits = digits.shape
    captions = np.full((num_strips, caption_length), word_to_idx['<NULL>'], dtype=np.int32)
    captions[:, 0] = word_to_idx['<START>']
    digit_ids = np.array([word_to_idx[word] for word in DIGIT_WORDS])
    used = digits >= 0
    captions[:, 1:1 + max_digits] = np.where(used, digit_ids[np.maximum(digits, 0)], word_to_idx['<NULL>'])
    captions[np.arange(num_strips), 1 + used.sum(axis=1)] = word_to_idx['<END>']
    return captions


def _save_h5(path, arrays):
    import h5py

    with h5py.File(path, 'w') as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)


def build_mnist_captioning(out_dir=MNIST_COCO_DIR, mnist=None, num_train=4000, num_val=1000, max_digits=3,
                           caption_length=17, feature_dim=512, seed=0):
    """Write the offline captioning dataset: MNIST digit strips in the COCO file format.

    Inputs:
    - out_dir: the folder to create, or to replace when it is a stand-in this function built (it holds only
      the files it writes); any other existing folder is a DataUnavailableError and is left untouched.
    - mnist: dict like data_utils.load_mnist_arrays() (x_train uint8 (N, 28, 28), y_train, x_test,
      y_test, source); loaded from data_utils when None. Train strips use the training digits, val
      strips the test digits.
    - num_train, num_val: number of strips (one caption each) per split.
    - max_digits: strips hold 1..max_digits digits, uniformly; caption_length: ids per caption.
    - feature_dim: size of the image features (float32), a fixed linear map of the pixels: digit slot j
      of a strip is coded by the projection of its 28x28 digit (blank after the strip's end) on the
      top principal directions of the training digits, the slots sharing feature_dim as evenly as
      possible; the features are scaled so that the training features have mean square 1.
    - seed: seed of every random choice.

    Returns out_dir as a pathlib.Path. The folder is built under a temporary name and renamed at the
    end (data_utils.atomic_dir), so an interrupted build never leaves a half-written dataset.
    """
    from PIL import Image

    out_dir = Path(out_dir)
    if caption_length < max_digits + 2:
        raise ValueError(f'caption_length={caption_length} cannot hold <START>, {max_digits} words and <END>')
    if (out_dir.exists() or out_dir.is_symlink()) and not _is_generated_standin(out_dir):
        foreign = _foreign_entries(out_dir) if out_dir.is_dir() else []
        raise DataUnavailableError(
            f'{data_utils.display_path(out_dir)} exists and holds '
            + (f'files the stand-in builder does not write ({", ".join(foreign[:5])}'
               f'{", ..." if len(foreign) > 5 else ""})' if foreign else 'something other than a stand-in folder')
            + f': it is not replaced. Move those out (or the folder away), then run {data_utils.MAKE_DATA}.')
    mnist = data_utils.load_mnist_arrays() if mnist is None else mnist
    idx_to_word = list(SPECIAL_TOKENS) + list(DIGIT_WORDS)
    word_to_idx = {word: i for i, word in enumerate(idx_to_word)}
    rng = np.random.default_rng(seed)

    splits = {}
    for split, (images, labels, count) in {'train': (mnist['x_train'], mnist['y_train'], num_train),
                                          'val': (mnist['x_test'], mnist['y_test'], num_val)}.items():
        tiles, lengths, digits = _digit_strips(np.asarray(images), np.asarray(labels), count, max_digits, rng)
        splits[split] = (tiles, lengths, _captions(digits, word_to_idx, caption_length))

    # Features: a fixed linear map of the pixels. Each digit slot is coded by its projection on the top
    # principal directions of the training digits (the slots share feature_dim as evenly as possible).
    slot_dims = [len(part) for part in np.array_split(np.arange(feature_dim), max_digits)]
    if max(slot_dims) > 28 * 28:
        raise ValueError(f'feature_dim={feature_dim} exceeds {max_digits} x 784 pixels')
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):  # 2-thread BLAS stalls on a busy 2-vCPU machine; these products are small
        mean, directions = _digit_pca(np.asarray(mnist['x_train']), max(slot_dims))
    features = {split: _strip_features(tiles, mean, directions, slot_dims) for split, (tiles, _, _) in splits.items()}
    scale = np.sqrt(np.mean(features['train'] ** 2))
    features = {split: (f / scale).astype(np.float32) for split, f in features.items()}

    with data_utils.writing_data(out_dir, 'the offline COCO captioning stand-in'), \
            data_utils.atomic_dir(out_dir, replaceable=_is_generated_standin) as tmp_dir:
        (tmp_dir / 'images').mkdir()
        caption_arrays = {}
        for split, (tiles, lengths, captions) in splits.items():
            urls = []
            for i, length in enumerate(lengths):
                name = f'images/{split}2014_{i:06d}.png'
                Image.fromarray(_strip_image(tiles[i], length)).save(tmp_dir / name)
                urls.append(name)
            (tmp_dir / _urls_file(split)).write_text('\n'.join(urls) + '\n')
            _save_h5(tmp_dir / _feature_file(split, True), {'features': features[split]})
            caption_arrays[f'{split}_captions'] = captions
            caption_arrays[f'{split}_image_idxs'] = np.arange(len(captions), dtype=np.int32)
        _save_h5(tmp_dir / CAPTIONS_FILE, caption_arrays)
        with open(tmp_dir / VOCAB_FILE, 'w') as f:
            json.dump({'idx_to_word': idx_to_word, 'word_to_idx': word_to_idx}, f)
        (tmp_dir / SOURCE_FILE).write_text(
            f'MNIST digit strips captioned with digit words (offline stand-in for COCO): {num_train} train / '
            f'{num_val} val images of 1-{max_digits} digits from {mnist.get("source", "given arrays")}\n'
            f'format version {MNIST_FORMAT_VERSION}, seed {seed}, features: {feature_dim}-d block PCA of the digit pixels\n')
    return out_dir


def main():
    """`make data`'s COCO step: prepare the captioning data; a problem is a message, not a traceback."""
    return data_utils.data_step('COCO captioning data', prepare_coco_data,
                                lambda base_dir: f'{data_utils.display_path(base_dir)}/ ({dataset_source(base_dir)})')


if __name__ == '__main__':
    sys.exit(main())
