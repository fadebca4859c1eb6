"""COCO captioning data as the notebooks use it: load a dataset folder, draw minibatches, decode captions, show images.

The course's helper of this name, with the same functions and arguments. A dataset folder holds the CS231n files
(``data/coco_captioning/``, from http://cs231n.stanford.edu/coco_captioning.zip):
- coco2014_captions.h5: train_captions (N, 17) int32, train_image_idxs (N,) int32, val_captions, val_image_idxs
  (caption i describes image image_idxs[i] of its split);
- train2014_vgg16_fc7_pca.h5 / val2014_vgg16_fc7_pca.h5: dataset ``features`` (num_images, 512) float32
  (``*_vgg16_fc7.h5``: the 4096-d features);
- coco2014_vocab.json: ``idx_to_word`` (list) and ``word_to_idx`` (dict); <NULL>=0 <START>=1 <END>=2 <UNK>=3;
- train2014_urls.txt / val2014_urls.txt: one image URL (or a path relative to the folder) per line.
A missing file is a FileNotFoundError and a damaged or inconsistent one a ValueError, each naming the file.
"""
import json
import os
from pathlib import Path

import numpy as np

BASE_DIR = 'data/coco_captioning'
COCO_URL = 'http://cs231n.stanford.edu/coco_captioning.zip'
CAPTIONS_FILE = 'coco2014_captions.h5'
VOCAB_FILE = 'coco2014_vocab.json'
CAPTION_KEYS = ('train_captions', 'train_image_idxs', 'val_captions', 'val_image_idxs')
MAX_TRAIN_SEED = 231            # fixed seed of load_coco_data's max_train subsample


def features_file(split, pca_features=True):
    """Name of the features file of ``split`` ('train' or 'val'): the 512-d PCA ones, or the 4096-d fc7 ones."""
    return f'{split}2014_vgg16_fc7{"_pca" if pca_features else ""}.h5'


def urls_file(split):
    """Name of the image URL file of ``split``."""
    return f'{split}2014_urls.txt'


def required_files(pca_features=True):
    """Names of the files load_coco_data reads from a dataset folder."""
    return (CAPTIONS_FILE, VOCAB_FILE, features_file('train', pca_features), features_file('val', pca_features),
            urls_file('train'), urls_file('val'))


def _how_to_get(base_dir):
    return (f'To get the data, download {COCO_URL} (~1 GB) and unzip it so that '
            f'{Path(base_dir) / CAPTIONS_FILE} exists (in the solution repository `make data` does it, or builds '
            f'an offline stand-in).')


def _read(path, read):
    """``read(path)``; FileNotFoundError when the file is missing, ValueError naming it and the fix when a folder
    sits there or it cannot be read."""
    if not path.exists():
        raise FileNotFoundError(f'Missing file {path}. {_how_to_get(path.parent)}')
    if not path.is_file():
        raise ValueError(f'{path} is a folder (or not a regular file) where a data file belongs: move it away '
                         f'(it is not removed automatically), then run `make data`.')
    try:
        return read(path)
    except Exception as exc:  # h5py: OSError, KeyError or RuntimeError; json and text: ValueError (decoding)
        first_line = (str(exc).splitlines() or [''])[0][:200]
        raise ValueError(f'{path} cannot be read ({type(exc).__name__}: {first_line}); it is truncated or damaged: '
                         f'delete it and run `make data`.') from exc


def _read_h5(path, keys=()):
    """Dict of every dataset in the h5 file at ``path`` (checking that ``keys`` are among them)."""
    import h5py

    def read(path):
        with h5py.File(path, 'r') as f:
            return {key: np.asarray(f[key]) for key in f.keys()}

    arrays = _read(path, read)
    for key in keys:
        if key not in arrays:
            raise ValueError(f'{path} has no dataset {key!r} (it has {sorted(arrays)}): the file is incomplete or '
                             f'not the CS231n one. {_how_to_get(path.parent)}')
    return arrays


def _read_vocab(path):
    vocab = _read(path, lambda path: json.loads(path.read_text(encoding='utf-8')))
    for key in ('idx_to_word', 'word_to_idx'):
        if not isinstance(vocab, dict) or key not in vocab:
            raise ValueError(f'{path} has no key {key!r}. {_how_to_get(path.parent)}')
    return vocab


def _read_urls(path):
    """(num_images,) str array of the lines of a urls file."""
    return _read(path, lambda path: np.asarray(
        [line.strip() for line in path.read_text(encoding='utf-8').splitlines()]))


def load_coco_data(base_dir=BASE_DIR, max_train=None, pca_features=True):
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
    Raises FileNotFoundError (naming the file and how to get it) when the folder or a file is missing,
    ValueError when a file cannot be read (truncated, damaged, a folder in its place), lacks a dataset or
    disagrees with the others, and for a bad max_train.
    """
    base_dir = Path(base_dir)
    if not base_dir.is_dir():
        raise FileNotFoundError(f'Dataset folder {base_dir} does not exist. {_how_to_get(base_dir)}')
    data = _read_h5(base_dir / CAPTIONS_FILE, CAPTION_KEYS)
    for split in ('train', 'val'):
        data[f'{split}_features'] = _read_h5(base_dir / features_file(split, pca_features), ('features',))['features']
    vocab = _read_vocab(base_dir / VOCAB_FILE)
    data['idx_to_word'], data['word_to_idx'] = vocab['idx_to_word'], vocab['word_to_idx']
    for split in ('train', 'val'):
        data[f'{split}_urls'] = _read_urls(base_dir / urls_file(split))

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
            raise ValueError(f'Inconsistent files in {base_dir}: ' + '; '.join(problems) + f'. {_how_to_get(base_dir)}')


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
            if os.environ.get('HW4_OFFLINE', '') == '1':
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


