"""coco_utils.py (loading, subsampling, minibatches, decoding, images) and hw4.data.coco (the MNIST stand-in builder
and the real-data / download / offline-fallback decision) on tiny generated files. No network."""
import json
import stat
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

import coco_utils
from coco_utils import decode_captions, load_coco_data, sample_coco_minibatch
from hw4 import files
from hw4.data import coco as coco_data
from hw4.data import mnist, registry
from hw4.files import DataUnavailableError

WORDS = ['<NULL>', '<START>', '<END>', '<UNK>', 'a', 'cat', 'on', 'mat']


def write_coco(folder, num_train_images=6, num_val_images=4, num_train=12, num_val=7, T1=5, D=3, seed=0):
    """A tiny dataset folder in the CS231n layout; returns what was written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, images, captions in (('train', num_train_images, num_train), ('val', num_val_images, num_val)):
        written[f'{split}_captions'] = rng.integers(0, len(WORDS), size=(captions, T1)).astype(np.int32)
        written[f'{split}_image_idxs'] = rng.integers(0, images, size=captions).astype(np.int32)
        written[f'{split}_features'] = rng.standard_normal((images, D)).astype(np.float32)
        written[f'{split}_fc7'] = rng.standard_normal((images, D + 2)).astype(np.float32)
        written[f'{split}_urls'] = [f'http://example.invalid/{split}/{i}.jpg' for i in range(images)]
        with h5py.File(folder / f'{split}2014_vgg16_fc7_pca.h5', 'w') as f:
            f.create_dataset('features', data=written[f'{split}_features'])
        with h5py.File(folder / f'{split}2014_vgg16_fc7.h5', 'w') as f:
            f.create_dataset('features', data=written[f'{split}_fc7'])
        (folder / f'{split}2014_urls.txt').write_text('\n'.join(written[f'{split}_urls']) + '\n')
    with h5py.File(folder / 'coco2014_captions.h5', 'w') as f:
        for key in coco_utils.CAPTION_KEYS:
            f.create_dataset(key, data=written[key])
        f.create_dataset('extra_key', data=np.arange(3))
    with open(folder / 'coco2014_vocab.json', 'w') as f:
        json.dump({'idx_to_word': WORDS, 'word_to_idx': {w: i for i, w in enumerate(WORDS)}}, f)
    return written


@pytest.fixture
def coco(tmp_path):
    folder = tmp_path / 'coco_captioning'
    return folder, write_coco(folder)


def test_load_coco_data_layout(coco):
    folder, written = coco
    data = load_coco_data(folder)
    for key in coco_utils.CAPTION_KEYS + ('train_features', 'val_features'):
        np.testing.assert_array_equal(data[key], written[key])
    assert data['train_captions'].dtype == np.int32 and data['train_features'].dtype == np.float32
    np.testing.assert_array_equal(data['extra_key'], np.arange(3))       # every h5 dataset is copied
    assert data['idx_to_word'] == WORDS and data['word_to_idx']['cat'] == 5
    assert list(data['train_urls']) == written['train_urls'] and data['val_urls'].shape == (4,)
    np.testing.assert_array_equal(load_coco_data(folder, pca_features=False)['val_features'], written['val_fc7'])


def test_max_train_is_a_fixed_subset_of_caption_image_pairs(coco):
    folder, written = coco
    np.random.seed(1)
    first = load_coco_data(folder, max_train=5)
    np.random.seed(2)
    second = load_coco_data(folder, max_train=5)
    assert first['train_captions'].shape == (5, 5)
    np.testing.assert_array_equal(first['train_captions'], second['train_captions'])
    pairs = {(tuple(c), i) for c, i in zip(written['train_captions'], written['train_image_idxs'])}
    picked = [(tuple(c), i) for c, i in zip(first['train_captions'], first['train_image_idxs'])]
    assert all(p in pairs for p in picked)
    assert len({tuple(c) for c, _ in picked}) == 5                         # drawn without replacement
    assert first['train_features'].shape == (6, 3)                       # all image features kept
    np.testing.assert_array_equal(first['val_captions'], written['val_captions'])
    assert load_coco_data(folder, max_train=100)['train_captions'].shape == (12, 5)
    with pytest.raises(ValueError, match='max_train'):
        load_coco_data(folder, max_train=0)


def test_missing_folder_file_or_key_is_a_clear_error(tmp_path, coco):
    with pytest.raises(FileNotFoundError, match=r'does not exist(.|\n)*coco_captioning.zip'):
        load_coco_data(tmp_path / 'nowhere')
    folder, _ = coco
    (folder / 'val2014_urls.txt').unlink()
    with pytest.raises(FileNotFoundError, match='val2014_urls.txt'):
        load_coco_data(folder)

    folder2 = tmp_path / 'second'
    write_coco(folder2)
    with h5py.File(folder2 / 'coco2014_captions.h5', 'a') as f:
        del f['val_image_idxs']
    with pytest.raises(ValueError, match="no dataset 'val_image_idxs'"):
        load_coco_data(folder2)

    folder3 = tmp_path / 'third'
    write_coco(folder3)
    with h5py.File(folder3 / 'train2014_vgg16_fc7_pca.h5', 'w') as f:
        f.create_dataset('feats', data=np.zeros((6, 3)))
    with pytest.raises(ValueError, match="no dataset 'features'"):
        load_coco_data(folder3)

    folder4 = tmp_path / 'fourth'
    write_coco(folder4)
    with open(folder4 / 'coco2014_vocab.json', 'w') as f:
        json.dump({'idx_to_word': WORDS}, f)
    with pytest.raises(ValueError, match="no key 'word_to_idx'"):
        load_coco_data(folder4)

    folder5 = tmp_path / 'fifth'
    write_coco(folder5, num_train_images=6)
    with h5py.File(folder5 / 'train2014_vgg16_fc7_pca.h5', 'w') as f:
        f.create_dataset('features', data=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match='Inconsistent'):
        load_coco_data(folder5)


def test_decode_captions():
    idx_to_word = WORDS
    caption = np.array([1, 4, 5, 0, 6, 2, 7, 0])
    assert decode_captions(caption, idx_to_word) == '<START> a cat on <END>'
    assert decode_captions(caption[None].repeat(2, axis=0), dict(enumerate(WORDS))) == ['<START> a cat on <END>'] * 2
    assert decode_captions(np.array([4, 5]), idx_to_word) == 'a cat'
    assert decode_captions(np.array([0, 0]), idx_to_word) == ''
    assert decode_captions(np.zeros((0, 3), int), idx_to_word) == []
    with pytest.raises(ValueError, match='word id 9'):
        decode_captions(np.array([1, 9]), idx_to_word)
    with pytest.raises(TypeError, match='integer'):
        decode_captions(np.array([1.0]), idx_to_word)
    with pytest.raises(ValueError, match='1-D'):
        decode_captions(np.zeros((1, 1, 1), int), idx_to_word)


def test_sample_coco_minibatch_pairs_captions_with_their_images(coco):
    folder, _ = coco
    data = load_coco_data(folder)
    captions, features, urls = sample_coco_minibatch(data, batch_size=20, split='train', seed=0)
    assert captions.shape == (20, 5) and features.shape == (20, 3) and urls.shape == (20,)
    pairs = {(tuple(c), int(i)) for c, i in zip(data['train_captions'], data['train_image_idxs'])}
    for caption, feature, url in zip(captions, features, urls):
        image = int(url.rsplit('/', 1)[1].split('.')[0])
        np.testing.assert_array_equal(feature, data['train_features'][image])
        assert (tuple(caption), image) in pairs
    val = sample_coco_minibatch(data, batch_size=3, split='val', seed=4)
    assert val[0].shape == (3, 5) and all('/val/' in u for u in val[2])


def test_sample_coco_minibatch_seeds(coco):
    folder, _ = coco
    data = load_coco_data(folder)
    a = sample_coco_minibatch(data, batch_size=10, seed=0)
    np.random.seed(99)
    b = sample_coco_minibatch(data, batch_size=10, seed=0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = sample_coco_minibatch(data, batch_size=10, seed=1)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    np.random.seed(3)
    d = sample_coco_minibatch(data, batch_size=10)
    np.random.seed(3)
    e = sample_coco_minibatch(data, batch_size=10)
    for x, y in zip(d, e):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match='split'):
        sample_coco_minibatch(data, split='test')
    with pytest.raises(ValueError, match='batch_size'):
        sample_coco_minibatch(data, batch_size=0)
    with pytest.raises(ValueError, match='train_urls'):
        sample_coco_minibatch({k: v for k, v in data.items() if k != 'train_urls'})


def test_image_from_url(tmp_path, monkeypatch):
    picture = (np.arange(12, dtype=np.uint8).reshape(3, 4) * 20)
    (tmp_path / 'images').mkdir()
    Image.fromarray(picture).save(tmp_path / 'images' / 'x.png')
    np.testing.assert_array_equal(coco_utils.image_from_url('images/x.png', base_dir=tmp_path), picture)
    np.testing.assert_array_equal(coco_utils.image_from_url(str(tmp_path / 'images' / 'x.png')), picture)
    assert coco_utils.image_from_url('images/missing.png', base_dir=tmp_path) is None
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    assert coco_utils.image_from_url(tmp_path / 'bad.png') is None

    def no_network(*args, **kwargs):
        raise AssertionError('network used in offline mode')
    monkeypatch.setattr('urllib.request.urlopen', no_network)
    assert coco_utils.image_from_url('http://farm4.staticflickr.com/dead.jpg') is None

    def dead_link(*args, **kwargs):
        raise OSError('HTTP Error 404')
    monkeypatch.setenv('HW4_OFFLINE', '0')
    monkeypatch.setattr('urllib.request.urlopen', dead_link)
    assert coco_utils.image_from_url('http://farm4.staticflickr.com/dead.jpg') is None


def fake_mnist(num_train=40, num_test=20, seed=0):
    """Digit d is a constant image of value 20 + 20 d, so a strip's pixels spell its digits."""
    rng = np.random.default_rng(seed)
    arrays = {'source': 'fake digits'}
    for split, n in (('train', num_train), ('test', num_test)):
        labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
        arrays[f'x_{split}'] = np.broadcast_to((20 + 20 * labels)[:, None, None], (n, 28, 28)).astype(np.uint8)
        arrays[f'y_{split}'] = labels
    return arrays


def test_mnist_standin_has_the_coco_format_and_true_captions(tmp_path):
    out = coco_data.build_mnist_captioning(tmp_path / 'mnist_coco', mnist=fake_mnist(), num_train=30, num_val=12,
                                            feature_dim=12, seed=3)
    data = load_coco_data(out)
    assert data['idx_to_word'][:4] == ['<NULL>', '<START>', '<END>', '<UNK>']
    assert data['idx_to_word'][4:] == list(coco_data.DIGIT_WORDS)
    assert data['train_captions'].shape == (30, 17) and data['train_captions'].dtype == np.int32
    assert data['val_captions'].shape == (12, 17)
    np.testing.assert_array_equal(data['train_image_idxs'], np.arange(30))
    assert data['train_features'].shape == (30, 12) and data['train_features'].dtype == np.float32
    assert np.mean(data['train_features'].astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-5)

    lengths_seen = set()
    for split in ('train', 'val'):
        texts = decode_captions(data[f'{split}_captions'], data['idx_to_word'])
        for text, url in zip(texts, data[f'{split}_urls']):
            picture = coco_utils.image_from_url(url, base_dir=out)
            digits = [(int(v) - 20) // 20 for v in picture[0, ::28]]
            assert text == ' '.join(['<START>'] + [coco_data.DIGIT_WORDS[d] for d in digits] + ['<END>'])
            lengths_seen.add(len(digits))
    assert lengths_seen == {1, 2, 3}

    # Features are a function of the pixels: equal strips, equal features.
    by_caption = {}
    for caption, feature in zip(map(tuple, data['train_captions']), data['train_features']):
        if caption in by_caption:
            np.testing.assert_allclose(feature, by_caption[caption], atol=1e-5)
        by_caption[caption] = feature
    assert 'MNIST digit strips' in coco_data.dataset_source(out)
    assert coco_data.dataset_source(tmp_path) == coco_data.COCO_SOURCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mnist_coco']     # no temporary folder left


def test_prepare_uses_real_data_when_present(coco, tmp_path, monkeypatch):
    folder, _ = coco
    monkeypatch.setattr(coco_data, 'build_mnist_captioning', pytest.fail)
    assert coco_data.prepare_coco_data(folder, tmp_path / 'standin') == folder


def test_prepare_falls_back_offline_to_the_standin_once(tmp_path, monkeypatch, capsys):
    builds = []
    real_build = coco_data.build_mnist_captioning

    def small_build(out_dir):
        builds.append(out_dir)
        return real_build(out_dir, mnist=fake_mnist(), num_train=20, num_val=10, feature_dim=9)

    monkeypatch.setattr(coco_data, 'build_mnist_captioning', small_build)
    base, standin = tmp_path / 'coco_captioning', tmp_path / 'coco_captioning_mnist'
    assert coco_data.prepare_coco_data(base, standin) == standin
    out = capsys.readouterr().out
    assert 'USING THE OFFLINE DEFAULT' in out and 'HW4_OFFLINE=1' in out and coco_data.COCO_URL in out
    assert coco_data.prepare_coco_data(base, standin) == standin
    assert len(builds) == 1
    assert load_coco_data(standin)['train_captions'].shape == (20, 17)


BUILD_MNIST_CAPTIONING = coco_data.build_mnist_captioning     # before any test replaces it


def small_standin(folder):
    """A tiny stand-in built from fake digits (fast, no MNIST needed)."""
    return BUILD_MNIST_CAPTIONING(folder, mnist=fake_mnist(), num_train=20, num_val=10, feature_dim=9)


def use_small_standin(monkeypatch):
    """Make prepare_coco_data build a tiny stand-in (small_standin)."""
    monkeypatch.setattr(coco_data, 'build_mnist_captioning', small_standin)


def test_prepare_falls_back_when_the_download_fails(tmp_path, monkeypatch, capsys):
    def failing_fetch(name, path=None, *, description=None, timeout=15):
        raise DataUnavailableError(f'Could not download {description} (ConnectionError: no route).')

    monkeypatch.setenv('HW4_OFFLINE', '0')
    monkeypatch.setattr(registry, 'fetch', failing_fetch)
    use_small_standin(monkeypatch)
    standin = tmp_path / 'standin'
    assert coco_data.prepare_coco_data(tmp_path / 'coco', standin) == standin
    assert 'no route' in capsys.readouterr().out


def test_prepare_unzips_a_downloaded_zip(tmp_path, monkeypatch):
    source = tmp_path / 'src' / 'coco_captioning'
    written = write_coco(source)
    zip_path = tmp_path / 'data' / 'coco_captioning.zip'
    zip_path.parent.mkdir()
    with zipfile.ZipFile(zip_path, 'w') as archive:
        for file in source.iterdir():
            archive.write(file, f'coco_captioning/{file.name}')

    def fetch(name, path=None, *, description=None, timeout=15):
        assert name == 'coco_captioning.zip' and registry.sha256_of(name) is None
        return zip_path

    monkeypatch.setattr(registry, 'fetch', fetch)
    monkeypatch.setattr(coco_data, 'build_mnist_captioning', pytest.fail)
    base = tmp_path / 'data' / 'coco_captioning'
    assert coco_data.prepare_coco_data(base, tmp_path / 'standin') == base
    np.testing.assert_array_equal(load_coco_data(base)['val_captions'], written['val_captions'])
    assert sorted(p.name for p in base.parent.iterdir()) == ['coco_captioning', 'coco_captioning.zip']  # no temporary


def test_prepare_rejects_a_zip_without_the_files(tmp_path, monkeypatch, capsys):
    zip_path = tmp_path / 'coco_captioning.zip'
    with zipfile.ZipFile(zip_path, 'w') as archive:
        archive.writestr('coco_captioning/readme.txt', 'nothing here')
    monkeypatch.setattr(registry, 'fetch', lambda *a, **k: zip_path)
    use_small_standin(monkeypatch)
    standin = tmp_path / 'standin'
    assert coco_data.prepare_coco_data(tmp_path / 'coco_captioning', standin) == standin
    assert 'does not hold the files' in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------------
# Faults: damaged files, folders in place of files, user files, permissions, a read-only data/
# ----------------------------------------------------------------------------------------------------
def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def test_decode_captions_rejects_ids_outside_the_vocabulary():
    for bad in (-1, -8, len(WORDS), 1000):
        with pytest.raises(ValueError, match=rf'word id {bad}, outside the vocabulary: idx_to_word has 8 words'):
            decode_captions(np.array([1, 4, bad, 2]), WORDS)
    with pytest.raises(ValueError, match='word id -1'):
        decode_captions(np.array([[1, -1, 2]]), dict(enumerate(WORDS)))
    assert decode_captions(np.array([1, 4, 2, -1]), WORDS) == '<START> a <END>'   # after <END>: not read (course)


@pytest.mark.parametrize('name', ['coco2014_captions.h5', 'val2014_vgg16_fc7_pca.h5', 'coco2014_vocab.json'])
def test_a_damaged_real_file_is_named_with_its_fix(tmp_path, monkeypatch, capsys, name):
    base = tmp_path / 'coco_captioning'
    write_coco(base)
    truncate(base / name)
    with pytest.raises(ValueError, match=rf'{name} cannot be read(.|\n)*delete it and run `make data`'):
        load_coco_data(base)
    use_small_standin(monkeypatch)
    standin = tmp_path / 'standin'
    assert coco_data.prepare_coco_data(base, standin) == standin       # not reported ready: falls back, saying why
    out = capsys.readouterr().out
    assert f'{name} cannot be read' in out and 'USING THE OFFLINE DEFAULT' in out
    assert (base / name).exists()                                        # a user's file is never deleted


def test_a_folder_where_a_file_belongs_is_named(tmp_path):
    base = tmp_path / 'coco_captioning'
    write_coco(base)
    (base / 'train2014_vgg16_fc7_pca.h5').unlink()
    (base / 'train2014_vgg16_fc7_pca.h5').mkdir()
    with pytest.raises(ValueError, match='train2014_vgg16_fc7_pca.h5 is a folder'):
        load_coco_data(base)
    assert coco_data.dataset_problem(base)[0] == 'damaged'


@pytest.mark.parametrize('damage', ['truncated h5', 'empty png', 'missing file', 'old format'])
def test_a_damaged_generated_standin_is_rebuilt(tmp_path, monkeypatch, capsys, damage):
    standin = small_standin(tmp_path / 'standin')
    if damage == 'truncated h5':
        truncate(standin / 'coco2014_captions.h5')
    elif damage == 'empty png':
        (standin / 'images' / 'val2014_000003.png').write_bytes(b'')
    elif damage == 'missing file':
        (standin / 'val2014_urls.txt').unlink()
    else:
        (standin / coco_data.SOURCE_FILE).write_text('format version 0\n')
    use_small_standin(monkeypatch)
    assert coco_data.prepare_coco_data(tmp_path / 'coco', standin) == standin
    assert 'rebuilt now' in capsys.readouterr().out
    assert load_coco_data(standin)['train_captions'].shape == (20, 17)
    assert coco_data._standin_problem(standin) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ['standin']        # no temporary folder left


def test_a_standin_folder_holding_user_files_is_never_replaced(tmp_path, monkeypatch):
    standin = small_standin(tmp_path / 'standin')
    (standin / coco_data.SOURCE_FILE).write_text('format version 0\n')    # outdated: would be rebuilt...
    (standin / 'my_notes.txt').write_text('mine')                          # ...but it holds a user's file
    use_small_standin(monkeypatch)
    with pytest.raises(DataUnavailableError, match=r'my_notes.txt(.|\n)*not replaced'):
        coco_data.prepare_coco_data(tmp_path / 'coco', standin)
    assert (standin / 'my_notes.txt').read_text() == 'mine'
    with pytest.raises(DataUnavailableError, match='not replaced'):
        small_standin(tmp_path)                                             # any folder that is not a stand-in


def test_generated_folders_get_the_usual_permissions(tmp_path, monkeypatch):
    from test_data_utils import current_umask

    umask = current_umask()
    standin = small_standin(tmp_path / 'standin')
    assert stat.S_IMODE(standin.stat().st_mode) == 0o777 & ~umask          # not mkdtemp's 0700
    assert stat.S_IMODE((standin / 'images').stat().st_mode) == 0o777 & ~umask
    zip_path = coco_zip(tmp_path, top_level=True)                           # files at the zip's top level
    monkeypatch.setattr(registry, 'fetch', lambda *a, **k: zip_path)
    base = tmp_path / 'data' / 'coco_captioning'
    assert coco_data.prepare_coco_data(base, standin) == base
    assert stat.S_IMODE(base.stat().st_mode) == 0o777 & ~umask


def coco_zip(tmp_path, top_level=False):
    """data/coco_captioning.zip holding a tiny dataset (in a coco_captioning/ folder unless top_level)."""
    source = tmp_path / 'zip_source'
    write_coco(source)
    zip_path = tmp_path / 'data' / 'coco_captioning.zip'
    zip_path.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(zip_path, 'w') as archive:
        for file in source.iterdir():
            archive.write(file, file.name if top_level else f'coco_captioning/{file.name}')
    return zip_path


def test_unzip_into_a_partial_folder_adds_only_what_is_missing(tmp_path, monkeypatch, capsys):
    zip_path = coco_zip(tmp_path)
    base = tmp_path / 'data' / 'coco_captioning'
    base.mkdir()
    (base / 'my_notes.txt').write_text('mine')
    (base / 'coco2014_vocab.json').write_text(json.dumps({'idx_to_word': WORDS, 'word_to_idx': {}}))  # user's own
    monkeypatch.setattr(registry, 'fetch', lambda *a, **k: zip_path)
    monkeypatch.setattr(coco_data, 'build_mnist_captioning', pytest.fail)
    assert coco_data.prepare_coco_data(base, tmp_path / 'standin') == base
    assert (base / 'my_notes.txt').read_text() == 'mine'
    assert json.loads((base / 'coco2014_vocab.json').read_text())['word_to_idx'] == {}   # left as it was
    assert 'coco2014_captions.h5' in capsys.readouterr().out
    assert load_coco_data(base)['train_captions'].shape == (12, 5)
    assert sorted(p.name for p in base.parent.iterdir()) == ['coco_captioning', 'coco_captioning.zip']


def test_a_truncated_zip_is_named_with_its_fix(tmp_path, monkeypatch, capsys):
    zip_path = coco_zip(tmp_path)
    truncate(zip_path)
    monkeypatch.setattr(registry, 'fetch', lambda *a, **k: zip_path)
    use_small_standin(monkeypatch)
    standin = tmp_path / 'standin'
    assert coco_data.prepare_coco_data(tmp_path / 'data' / 'coco_captioning', standin) == standin
    out = capsys.readouterr().out.replace('\n!! ', ' ')
    assert 'Could not unzip' in out and 'coco_captioning.zip' in out and 'delete it and run `make data`' in out
    assert zip_path.exists()


def test_read_only_data_folder_is_a_clear_message(tmp_path, monkeypatch, capsys):
    from test_data_utils import check_read_only_data_folder

    use_small_standin(monkeypatch)
    check_read_only_data_folder(tmp_path, monkeypatch, capsys, coco_data.prepare_coco_data, coco_data.make_data_step)


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in Path(folder).rglob('*') if p.is_file()}


@pytest.mark.parametrize('path', ['real data present', 'offline default', 'damaged files', 'partial COCO + zip'])
def test_make_data_never_removes_user_files(tmp_path, monkeypatch, path):
    """`make data` (MNIST, then COCO) on every path leaves every file a user put in data/ as it was (damaged
    ones included); only the generated offline defaults are rebuilt."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'my_notes.txt').write_text('mine')
    coco = data / 'coco_captioning'
    coco.mkdir()
    (coco / 'my_features.npy').write_bytes(b'user bytes')
    standin = data / 'coco_captioning_mnist'
    mnist_hash = mnist.MNIST_SHA256
    monkeypatch.setattr(mnist, 'build_mnist_subset',
                        lambda p: files.write_bytes_atomic(p, (tmp_path / 'tiny.npz').read_bytes()))
    np.savez_compressed(tmp_path / 'tiny.npz', **{k: v for k, v in fake_mnist(300, 60).items() if k != 'source'})
    use_small_standin(monkeypatch)
    if path == 'real data present':
        (data / 'mnist.npz').write_bytes((tmp_path / 'tiny.npz').read_bytes())
        mnist_hash = files.sha256sum(data / 'mnist.npz')
        write_coco(coco)
    elif path == 'damaged files':
        (data / 'mnist.npz').write_bytes(b'PK\x03\x04 truncated')
        (data / 'mnist_5k.npz').write_bytes(b'PK\x03\x04 truncated')
        write_coco(coco)
        truncate(coco / 'coco2014_captions.h5')
        small_standin(standin)
        truncate(standin / 'train2014_vgg16_fc7_pca.h5')
    elif path == 'partial COCO + zip':
        coco_zip(tmp_path)
        write_coco(tmp_path / 'partial')
        (tmp_path / 'partial' / 'coco2014_vocab.json').replace(coco / 'coco2014_vocab.json')
    generated = ('mnist_5k.npz', 'coco_captioning_mnist/')       # ours: rebuilt when damaged
    before = {name: value for name, value in _snapshot(data).items() if not name.startswith(generated)}

    arrays = mnist.load_mnist_arrays(sha256=mnist_hash)
    if path == 'partial COCO + zip':
        monkeypatch.setenv('HW4_OFFLINE', '0')              # the zip is there: fetch returns it (no network)
    base = coco_data.prepare_coco_data()
    load_coco_data(base)

    after = _snapshot(data)
    assert {name: after.get(name) for name in before} == before       # nothing a user had was changed or removed
    assert (arrays['source'] == mnist.MNIST_FULL_SOURCE) == (path == 'real data present')
    assert (base == coco_data.COCO_DIR) == (path in ('real data present', 'partial COCO + zip'))
    assert not [p for p in data.iterdir() if p.name.startswith('.') or p.name.startswith('tmp')]
