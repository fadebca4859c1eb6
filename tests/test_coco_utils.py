"""coco_utils.py on tiny generated files: loading, subsampling, minibatches, decoding, images, the MNIST
stand-in builder and the real-data / download / offline-fallback decision. No network."""
import json
import zipfile

import h5py
import numpy as np
import pytest
from PIL import Image

import coco_utils
import data_utils
from coco_utils import decode_captions, load_coco_data, sample_coco_minibatch
from data_utils import DataUnavailableError

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
    with pytest.raises(DataUnavailableError, match=r'does not exist(.|\n)*prepare_coco_data'):
        load_coco_data(tmp_path / 'nowhere')
    folder, _ = coco
    (folder / 'val2014_urls.txt').unlink()
    with pytest.raises(DataUnavailableError, match='val2014_urls.txt'):
        load_coco_data(folder)

    folder2 = tmp_path / 'second'
    write_coco(folder2)
    with h5py.File(folder2 / 'coco2014_captions.h5', 'a') as f:
        del f['val_image_idxs']
    with pytest.raises(DataUnavailableError, match="no dataset 'val_image_idxs'"):
        load_coco_data(folder2)

    folder3 = tmp_path / 'third'
    write_coco(folder3)
    with h5py.File(folder3 / 'train2014_vgg16_fc7_pca.h5', 'w') as f:
        f.create_dataset('feats', data=np.zeros((6, 3)))
    with pytest.raises(DataUnavailableError, match="no dataset 'features'"):
        load_coco_data(folder3)

    folder4 = tmp_path / 'fourth'
    write_coco(folder4)
    with open(folder4 / 'coco2014_vocab.json', 'w') as f:
        json.dump({'idx_to_word': WORDS}, f)
    with pytest.raises(DataUnavailableError, match="no key 'word_to_idx'"):
        load_coco_data(folder4)

    folder5 = tmp_path / 'fifth'
    write_coco(folder5, num_train_images=6)
    with h5py.File(folder5 / 'train2014_vgg16_fc7_pca.h5', 'w') as f:
        f.create_dataset('features', data=np.zeros((2, 3), np.float32))
    with pytest.raises(DataUnavailableError, match='Inconsistent'):
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
    out = coco_utils.build_mnist_captioning(tmp_path / 'mnist_coco', mnist=fake_mnist(), num_train=30, num_val=12,
                                            feature_dim=12, seed=3)
    data = load_coco_data(out)
    assert data['idx_to_word'][:4] == ['<NULL>', '<START>', '<END>', '<UNK>']
    assert data['idx_to_word'][4:] == list(coco_utils.DIGIT_WORDS)
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
            assert text == ' '.join(['<START>'] + [coco_utils.DIGIT_WORDS[d] for d in digits] + ['<END>'])
            lengths_seen.add(len(digits))
    assert lengths_seen == {1, 2, 3}

    # Features are a function of the pixels: equal strips, equal features.
    by_caption = {}
    for caption, feature in zip(map(tuple, data['train_captions']), data['train_features']):
        if caption in by_caption:
            np.testing.assert_allclose(feature, by_caption[caption], atol=1e-5)
        by_caption[caption] = feature
    assert 'MNIST digit strips' in coco_utils.dataset_source(out)
    assert coco_utils.dataset_source(tmp_path) == coco_utils.COCO_SOURCE
    assert not list(tmp_path.glob('*.building-*'))


def test_prepare_uses_real_data_when_present(coco, tmp_path, monkeypatch):
    folder, _ = coco
    monkeypatch.setattr(coco_utils, 'build_mnist_captioning', pytest.fail)
    assert coco_utils.prepare_coco_data(folder, tmp_path / 'standin') == folder


def test_prepare_falls_back_offline_to_the_standin_once(tmp_path, monkeypatch, capsys):
    builds = []
    real_build = coco_utils.build_mnist_captioning

    def small_build(out_dir):
        builds.append(out_dir)
        return real_build(out_dir, mnist=fake_mnist(), num_train=20, num_val=10, feature_dim=9)

    monkeypatch.setattr(coco_utils, 'build_mnist_captioning', small_build)
    base, standin = tmp_path / 'coco_captioning', tmp_path / 'coco_captioning_mnist'
    assert coco_utils.prepare_coco_data(base, standin) == standin
    out = capsys.readouterr().out
    assert 'USING THE OFFLINE DEFAULT' in out and 'HW4_OFFLINE=1' in out and coco_utils.COCO_URL in out
    assert coco_utils.prepare_coco_data(base, standin) == standin
    assert len(builds) == 1
    assert load_coco_data(standin)['train_captions'].shape == (20, 17)


def use_small_standin(monkeypatch):
    """Make prepare_coco_data build a tiny stand-in from fake digits (fast, no MNIST needed)."""
    real_build = coco_utils.build_mnist_captioning
    monkeypatch.setattr(coco_utils, 'build_mnist_captioning',
                        lambda out_dir: real_build(out_dir, mnist=fake_mnist(), num_train=20, num_val=10,
                                                   feature_dim=9))


def test_prepare_falls_back_when_the_download_fails(tmp_path, monkeypatch, capsys):
    def failing_fetch(url, path, sha256=None, *, description, timeout=15):
        raise DataUnavailableError(f'Could not download {description} (ConnectionError: no route).')

    monkeypatch.setenv('HW4_OFFLINE', '0')
    monkeypatch.setattr(data_utils, 'fetch_file', failing_fetch)
    use_small_standin(monkeypatch)
    standin = tmp_path / 'standin'
    assert coco_utils.prepare_coco_data(tmp_path / 'coco', standin) == standin
    assert 'no route' in capsys.readouterr().out


def test_prepare_unzips_a_downloaded_zip(tmp_path, monkeypatch):
    source = tmp_path / 'src' / 'coco_captioning'
    written = write_coco(source)
    zip_path = tmp_path / 'data' / 'coco_captioning.zip'
    zip_path.parent.mkdir()
    with zipfile.ZipFile(zip_path, 'w') as archive:
        for file in source.iterdir():
            archive.write(file, f'coco_captioning/{file.name}')

    def fetch(url, path, sha256=None, *, description, timeout=15):
        assert url == coco_utils.COCO_URL and sha256 is None
        return zip_path

    monkeypatch.setattr(data_utils, 'fetch_file', fetch)
    monkeypatch.setattr(coco_utils, 'build_mnist_captioning', pytest.fail)
    base = tmp_path / 'data' / 'coco_captioning'
    assert coco_utils.prepare_coco_data(base, tmp_path / 'standin') == base
    np.testing.assert_array_equal(load_coco_data(base)['val_captions'], written['val_captions'])
    assert not [p for p in base.parent.iterdir() if p.name.startswith('tmp')]


def test_prepare_rejects_a_zip_without_the_files(tmp_path, monkeypatch, capsys):
    zip_path = tmp_path / 'coco_captioning.zip'
    with zipfile.ZipFile(zip_path, 'w') as archive:
        archive.writestr('coco_captioning/readme.txt', 'nothing here')
    monkeypatch.setattr(data_utils, 'fetch_file', lambda *a, **k: zip_path)
    use_small_standin(monkeypatch)
    standin = tmp_path / 'standin'
    assert coco_utils.prepare_coco_data(tmp_path / 'coco_captioning', standin) == standin
    assert 'does not hold the files' in capsys.readouterr().out
