"""Q2's data: the CS231n COCO captioning folder, or, offline, a stand-in in the same file format built from MNIST.

- Real: ``coco_captioning.zip`` (~1 GB, from the registry) unzipped to ``data/coco_captioning/``: COCO 2014
  captions as word ids, VGG-16 fc7 image features reduced to 512-d by PCA, image URLs.
- Offline default: ``data/coco_captioning_mnist/``, built here from real MNIST digits (hw4.data.mnist): strips
  of 1-3 digits captioned with their digit words (``<START> seven two nine <END>`` padded with ``<NULL>``),
  512-d PCA features of the pixels, the strips saved as PNGs whose relative paths fill the urls files.
The files of a folder are described in coco_utils.py, which loads either.
"""
import json
import re
from pathlib import Path

import numpy as np

import coco_utils
from coco_utils import CAPTIONS_FILE, VOCAB_FILE, features_file, urls_file, required_files
from hw4.data import DATA_DIR, data_step, registry
from hw4.data import mnist as mnist_data
from hw4.files import (MAKE_DATA, DataUnavailableError, announce, atomic_dir, display_path, misplaced_error,
                       without_machine_paths, writing_data)

COCO_URL = registry.url_of('coco_captioning.zip')
COCO_DIR = DATA_DIR / 'coco_captioning'
MNIST_COCO_DIR = DATA_DIR / 'coco_captioning_mnist'
COCO_SOURCE = 'CS231n COCO 2014 captioning data (VGG-16 fc7 features, PCA to 512-d)'
SOURCE_FILE = 'SOURCE.txt'      # written by the MNIST builder only; names the dataset

SPECIAL_TOKENS = ('<NULL>', '<START>', '<END>', '<UNK>')
DIGIT_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
MNIST_FORMAT_VERSION = 1


def dataset_problem(base_dir):
    """None when ``base_dir`` holds a complete, readable dataset; else (kind, message).

    kind is 'missing' (the folder or some files are absent: unpacking the zip can fill them in) or 'damaged'
    (every file is there but one cannot be read, lacks a dataset or disagrees with the others, or a folder sits
    where a file belongs: the message names it and what to do)."""
    base_dir = Path(base_dir)
    shown = display_path(base_dir)
    if not base_dir.exists():
        return 'missing', f'{shown}/ does not exist.'
    if not base_dir.is_dir():
        return 'damaged', str(misplaced_error(base_dir, 'the dataset folder', found='a file'))
    missing = [name for name in required_files() if not (base_dir / name).exists()]
    if missing:
        return 'missing', f'{shown}/ is incomplete: {", ".join(missing)} missing.'
    try:
        coco_utils.load_coco_data(base_dir)
    except (OSError, ValueError) as exc:
        return 'damaged', without_machine_paths(exc)
    return None


def dataset_source(base_dir):
    """One line naming the dataset in ``base_dir``: the MNIST stand-in says so in SOURCE.txt."""
    marker = Path(base_dir) / SOURCE_FILE
    lines = marker.read_text(errors='replace').strip().splitlines() if marker.is_file() else []
    return lines[0] if lines else COCO_SOURCE


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
            zip_path = registry.fetch('coco_captioning.zip', base_dir.parent / 'coco_captioning.zip', timeout=30,
                                      description='CS231n COCO captioning data (coco_captioning.zip, ~1 GB)')
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
            print(f'{standin_problem}\n{display_path(standin_dir)}/ is generated here, so it is rebuilt '
                  f'now ...', flush=True)
        else:
            print(f'Building the offline MNIST captioning stand-in in {display_path(standin_dir)}/ ...',
                  flush=True)
        build_mnist_captioning(standin_dir)
    announce(
        f'COCO captioning data is not available:\n{reason}\n\nUSING THE OFFLINE DEFAULT: '
        f'{display_path(standin_dir)}\n{dataset_source(standin_dir)}.\nIt has the COCO file format, so '
        f'the same code runs on it; losses and captions are not comparable with COCO results.')
    return standin_dir


def _unzip_dataset(zip_path, base_dir):
    """Unpack the zip (pooch.Unzip, into a temporary folder), then move the folder holding coco2014_captions.h5 to
    ``base_dir`` (when absent) or move its files that ``base_dir`` lacks into it."""
    fix = f'delete it and run {MAKE_DATA} (it is downloaded again)'
    with registry.unzipped(zip_path, base_dir, fix) as unpacked:
        found = sorted(unpacked.rglob(CAPTIONS_FILE))
        if not found or not all((found[0].parent / name).is_file() for name in required_files()):
            raise DataUnavailableError(f'{display_path(zip_path)} does not hold the files {required_files()}; delete '
                                       f'it and run {MAKE_DATA} (it is downloaded again from {COCO_URL}).')
        source = found[0].parent
        if not (base_dir.exists() or base_dir.is_symlink()):
            with writing_data(base_dir, 'the unpacked COCO captioning data'), atomic_dir(base_dir) as new_dir:
                registry.move_missing(source, new_dir)
            print(f'Unpacked into {display_path(base_dir)}/', flush=True)
            return
        added = registry.move_missing(source, base_dir)
        print(f'{display_path(base_dir)}/ already existed: moved in the files it lacked '
              f'({", ".join(added) or "none"}); files already there were left as they are.', flush=True)


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
    shown = display_path(standin_dir)
    if not standin_dir.exists():
        return f'{shown}/ does not exist.'
    marker = standin_dir / SOURCE_FILE
    if not marker.is_file() or f'format version {MNIST_FORMAT_VERSION}' not in marker.read_text(errors='replace'):
        return f'{shown}/ was not built by this version of hw4/data/coco.py (see {SOURCE_FILE}).'
    problem = dataset_problem(standin_dir)
    if problem is not None:
        return problem[1]
    for split in ('train', 'val'):
        for url in coco_utils.load_coco_data(standin_dir)[f'{split}_urls']:
            image = standin_dir / url
            if not image.is_file() or image.stat().st_size == 0:
                return f'{display_path(image)} is missing or empty.'
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
    - mnist: dict like hw4.data.mnist.load_mnist_arrays() (x_train uint8 (N, 28, 28), y_train, x_test,
      y_test, source); loaded from hw4.data.mnist when None. Train strips use the training digits, val
      strips the test digits.
    - num_train, num_val: number of strips (one caption each) per split.
    - max_digits: strips hold 1..max_digits digits, uniformly; caption_length: ids per caption.
    - feature_dim: size of the image features (float32), a fixed linear map of the pixels: digit slot j
      of a strip is coded by the projection of its 28x28 digit (blank after the strip's end) on the
      top principal directions of the training digits, the slots sharing feature_dim as evenly as
      possible; the features are scaled so that the training features have mean square 1.
    - seed: seed of every random choice.

    Returns out_dir as a pathlib.Path. The folder is built under a temporary name and renamed at the
    end (atomic_dir), so an interrupted build never leaves a half-written dataset.
    """
    from PIL import Image

    out_dir = Path(out_dir)
    if caption_length < max_digits + 2:
        raise ValueError(f'caption_length={caption_length} cannot hold <START>, {max_digits} words and <END>')
    if (out_dir.exists() or out_dir.is_symlink()) and not _is_generated_standin(out_dir):
        foreign = _foreign_entries(out_dir) if out_dir.is_dir() else []
        raise DataUnavailableError(
            f'{display_path(out_dir)} exists and holds '
            + (f'files the stand-in builder does not write ({", ".join(foreign[:5])}'
               f'{", ..." if len(foreign) > 5 else ""})' if foreign else 'something other than a stand-in folder')
            + f': it is not replaced. Move those out (or the folder away), then run {MAKE_DATA}.')
    mnist = mnist_data.load_mnist_arrays() if mnist is None else mnist
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

    with writing_data(out_dir, 'the offline COCO captioning stand-in'), \
            atomic_dir(out_dir, replaceable=_is_generated_standin) as tmp_dir:
        (tmp_dir / 'images').mkdir()
        caption_arrays = {}
        for split, (tiles, lengths, captions) in splits.items():
            urls = []
            for i, length in enumerate(lengths):
                name = f'images/{split}2014_{i:06d}.png'
                Image.fromarray(_strip_image(tiles[i], length)).save(tmp_dir / name)
                urls.append(name)
            (tmp_dir / urls_file(split)).write_text('\n'.join(urls) + '\n')
            _save_h5(tmp_dir / features_file(split, True), {'features': features[split]})
            caption_arrays[f'{split}_captions'] = captions
            caption_arrays[f'{split}_image_idxs'] = np.arange(len(captions), dtype=np.int32)
        _save_h5(tmp_dir / CAPTIONS_FILE, caption_arrays)
        with open(tmp_dir / VOCAB_FILE, 'w') as f:
            json.dump({'idx_to_word': idx_to_word, 'word_to_idx': word_to_idx}, f)
        (tmp_dir / SOURCE_FILE).write_text(
            f'MNIST digit strips captioned with digit words (offline stand-in for COCO): {num_train} train / '
            f'{num_val} val images of 1-{max_digits} digits from {mnist.get("source", "given arrays")}\n'
            f'format version {MNIST_FORMAT_VERSION}, seed {seed}, features: {feature_dim}-d block PCA of the digit '
            f'pixels\n')
    return out_dir


def make_data_step():
    """`make data`'s COCO step: prepare the captioning data; a problem is a message, not a traceback."""
    return data_step('COCO captioning data', prepare_coco_data,
                     lambda base_dir: f'{display_path(base_dir)}/ ({dataset_source(base_dir)})')
