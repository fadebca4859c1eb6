"""CaptioningSolver: the shared Solver training loop applied to image-captioning models.

It only changes what a minibatch is (captions and image features drawn by
coco_utils.sample_coco_minibatch) and drops the accuracy checks and best-parameter restore, which
have no meaning for captioning. Everything else (update rules, learning-rate decay per epoch,
iteration count, progress bar, loss_history) is Solver's.

Example:
    data = coco_utils.load_coco_data(max_train=200)
    model = CaptioningRNN(data['word_to_idx'], input_dim=data['train_features'].shape[1])
    solver = CaptioningSolver(model, data, update_rule='adam', num_epochs=58, batch_size=25,
                              optim_config={'learning_rate': 4e-3}, lr_decay=0.95)
    solver.train()
    plt.plot(solver.loss_history)
"""
from coco_utils import sample_coco_minibatch
from solver import Solver


class CaptioningSolver(Solver):
    """Trains a captioning model with minibatch gradient descent.

    Inputs:
    - model: object with ``params`` (dict name -> array) and ``loss(features, captions)`` returning
      ``(loss, grads)`` with grads keyed like params (e.g. rnn.CaptioningRNN).
    - data: dict from coco_utils.load_coco_data; needs train_captions (N, T+1) int,
      train_image_idxs (N,) int, train_features (num_images, D) and train_urls (num_images,).
    - kwargs (all optional): update_rule ('sgd'; name of a function in optim.py), optim_config
      (dict copied for every parameter, e.g. {'learning_rate': 4e-3}), lr_decay (1.0; learning-rate
      factor applied at the end of every epoch), batch_size (100), num_epochs (10), print_every (10:
      iterations between progress-bar loss updates), verbose (True). Unknown kwargs raise ValueError.

    train() runs num_epochs * max(N // batch_size, 1) steps on minibatches drawn with the global
    np.random stream (seed it for repeatable runs); loss_history holds one float per step.
    """

    # Solver's kwargs with the captioning defaults, minus Solver's accuracy-sampling settings.
    default_kwargs = {**{k: v for k, v in Solver.default_kwargs.items()
                         if k not in ('num_train_samples', 'num_val_samples')},
                      'batch_size': 100, 'print_every': 10}
    required_data_keys = ('train_captions', 'train_image_idxs', 'train_features', 'train_urls')

    def _num_train(self):
        """Number of training captions (the unit of an epoch)."""
        return self.data['train_captions'].shape[0]

    def _sample_batch(self):
        """(features (B, D), captions (B, T+1)): the positional arguments of model.loss."""
        captions, features, _ = sample_coco_minibatch(self.data, batch_size=self.batch_size, split='train')
        return features, captions

    def _check_accuracies(self):
        """Captioning records no accuracies."""
        return None

    def _finish(self):
        """Keep the final parameters (there is no best-validation copy to restore)."""
        return None
