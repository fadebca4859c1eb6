"""Q3: transfer learning with PyTorch (EECS 545 HW4), after the PyTorch transfer-learning tutorial.

Two scenarios on a small two-class ImageFolder (hymenoptera: ants vs bees):
- ``finetune``: start from a pretrained ResNet-18, replace its classifier, train every layer.
- ``freeze``: the same network used as a fixed feature extractor; only the new classifier is trained.
Both follow the tutorial's recipe: cross-entropy, SGD(lr=0.001, momentum=0.9), StepLR(step_size=7,
gamma=0.1), and report the validation accuracy once before training.

This file needs only PyTorch and torchvision. The repository's transfer_data.py prepares the images and the
loaders and decides which weights to start from when the ImageNet ones cannot be had; plots.py draws.

Shapes: images are (N, 3, H, W) float32 tensors normalized with the ImageNet mean/std; labels (N,) int64.
"""
import copy
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn, optim
from torch.optim import lr_scheduler

PHASES = ("train", "val")


def hello():
    """Check that the module imports."""
    print("Hello from transfer_learning.py!")


# ----------------------------------------------------------------------------------------------------
# Training.
# ----------------------------------------------------------------------------------------------------

def _check_num_epochs(num_epochs):
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int):
        raise TypeError(f"num_epochs must be an int, got {type(num_epochs).__name__} {num_epochs!r}")
    if num_epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")


def _check_phase_dicts(dataloaders, dataset_sizes, phases):
    for arg_name, value in (("dataloaders", dataloaders), ("dataset_sizes", dataset_sizes)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{arg_name} must be a dict keyed by phase, got {type(value).__name__}")
        missing = [phase for phase in phases if phase not in value]
        if missing:
            raise ValueError(f"{arg_name} has no entry for {missing}; expected keys {list(phases)}")
    for phase in phases:
        size = dataset_sizes[phase]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"dataset_sizes[{phase!r}] must be a positive int, got {size!r}")


def _check_class_names(class_names):
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or len(class_names) < 2:
        raise ValueError(f"class_names must be a list of at least 2 names, got {class_names!r}")


def _enter_train_mode(model):
    """model.train(), except BatchNorm layers whose parameters are all frozen stay in eval mode.

    A frozen layer should be a fixed function: in train mode BatchNorm would normalize with batch
    statistics and overwrite its running statistics, so "frozen" features would still change.
    """
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                module.eval()


def _module_modes(model):
    return [(module, module.training) for module in model.modules()]


def _restore_modes(modes):
    # Set flags one by one: module.train(mode) would also overwrite the children's own flags.
    for module, training in modes:
        module.training = training


def _run_phase(device, model, loader, criterion, optimizer, expected_size, phase):
    """One pass over ``loader``; returns (mean loss, accuracy). Trains (optimizer steps) iff phase=='train'."""
    training = phase == "train"
    running_loss, running_corrects, seen = 0.0, 0, 0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        if training:
            optimizer.zero_grad()
        with torch.set_grad_enabled(training):
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            if training:
                loss.backward()
                optimizer.step()
        running_loss += loss.item() * inputs.size(0)
        running_corrects += (outputs.argmax(dim=1) == labels).sum().item()
        seen += inputs.size(0)
    if seen != expected_size:
        raise ValueError(f"dataset_sizes[{phase!r}] is {expected_size} but its loader yielded {seen} images")
    epoch_loss, epoch_acc = running_loss / seen, running_corrects / seen
    if not math.isfinite(epoch_loss):
        raise FloatingPointError(f"{phase} loss is {epoch_loss}: the model's outputs are not finite "
                                 f"(diverged training or NaN/inf weights)")
    print(f"{phase} Loss: {epoch_loss:.4f} Acc: {epoch_acc:.4f}")
    return epoch_loss, epoch_acc


def _evaluate_only(device, dataloaders, dataset_sizes, model, criterion, history):
    modes = _module_modes(model)
    model.eval()
    start = time.time()
    try:
        val_loss, val_acc = _run_phase(device, model, dataloaders["val"], criterion, None,
                                       dataset_sizes["val"], "val")
    finally:
        _restore_modes(modes)
    if history is not None:
        done = sum(1 for entry in history if entry["train_loss"] is not None)
        history.append({"epoch": done, "train_loss": None, "train_acc": None, "val_loss": val_loss,
                        "val_acc": val_acc, "lr": None, "seconds": time.time() - start})
    return model


def train_model(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler, num_epochs=25,
                history=None):
    """Train ``model`` and return it holding the weights of its best validation epoch.

    Each epoch runs phase 'train' (model.train(), gradients, one optimizer step per batch) then 'val'
    (model.eval(), no gradients), printing '{phase} Loss: {loss:.4f} Acc: {acc:.4f}'. The scheduler
    steps once per epoch, after that epoch's optimizer steps. A deep copy of the state dict with the
    highest val accuracy is kept (earliest epoch on ties) and loaded at the end. BatchNorm layers whose
    parameters are all frozen (requires_grad=False) stay in eval mode while training, so a frozen
    backbone keeps its running statistics too.

    Inputs:
    - device: torch.device (or str) the model already lives on; batches are moved there.
    - dataloaders: {'train': DataLoader, 'val': DataLoader} yielding (images (B, 3, H, W), labels (B,)).
    - dataset_sizes: {'train': int, 'val': int}, images per phase (checked against the loaders).
    - model: nn.Module mapping (B, 3, H, W) to class scores (B, C).
    - criterion: loss on (scores (B, C), labels (B,)), e.g. nn.CrossEntropyLoss().
    - optimizer: torch optimizer over the parameters to train.
    - scheduler: learning-rate scheduler stepped once per epoch, or None.
    - num_epochs: epochs to train; 0 only evaluates on val (prints, changes nothing, restores modes).
    - history: optional list; one dict per epoch is appended with keys epoch (epochs trained so far in
      this history), train_loss, train_acc, val_loss, val_acc, lr, seconds. An evaluation-only call
      appends train_loss = train_acc = lr = None.

    Returns model (the same object).
    Raises FloatingPointError if a loss is not finite, ValueError/TypeError for malformed arguments.
    """
    _check_num_epochs(num_epochs)
    device = torch.device(device)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if num_epochs == 0:
        _check_phase_dicts(dataloaders, dataset_sizes, ("val",))
        return _evaluate_only(device, dataloaders, dataset_sizes, model, criterion, history)
    _check_phase_dicts(dataloaders, dataset_sizes, PHASES)

    since = time.time()
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = -1.0
    done = 0 if history is None else sum(1 for entry in history if entry["train_loss"] is not None)
    for epoch in range(num_epochs):
        print(f"Epoch {epoch}/{num_epochs - 1}")
        print("-" * 10)
        epoch_start = time.time()
        lr = optimizer.param_groups[0]["lr"]
        _enter_train_mode(model)
        train_loss, train_acc = _run_phase(device, model, dataloaders["train"], criterion, optimizer,
                                           dataset_sizes["train"], "train")
        if scheduler is not None:
            scheduler.step()  # after this epoch's optimizer steps, as PyTorch >= 1.1 requires
        model.eval()
        val_loss, val_acc = _run_phase(device, model, dataloaders["val"], criterion, None,
                                       dataset_sizes["val"], "val")
        if val_acc > best_acc:
            best_acc = val_acc
            best_model_wts = copy.deepcopy(model.state_dict())
        if history is not None:
            history.append({"epoch": done + epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                            "val_loss": val_loss, "val_acc": val_acc, "lr": lr,
                            "seconds": time.time() - epoch_start})
        print()

    elapsed = time.time() - since
    print(f"Training complete in {elapsed // 60:.0f}m {elapsed % 60:.0f}s")
    print(f"Best val Acc: {best_acc:.4f}")
    model.load_state_dict(best_model_wts)
    return model


# ----------------------------------------------------------------------------------------------------
# Pretrained weights, and the two transfer-learning scenarios.
# ----------------------------------------------------------------------------------------------------

def load_resnet18(weights="DEFAULT"):
    """torchvision's ResNet-18 holding ``weights`` (its fc is still the source task's classifier).

    weights: None (random initialization); a torchvision ResNet18_Weights or its name ('DEFAULT' is
    'IMAGENET1K_V1', ImageNet), read from torch.hub's cache (TORCH_HOME/hub/checkpoints), downloaded there
    first if absent; or the path of a ResNet-18 state dict saved with torch.save (any number of classes),
    e.g. the offline source-task backbone of transfer_data.py. Files are read with weights_only=True: a
    checkpoint can hold tensors, never code to run.

    Returns an nn.Module mapping (B, 3, H, W) to (B, K) scores, K = the rows of the state dict's fc.weight.
    """
    print(f"ResNet-18 weights: {'none (random initialization)' if weights is None else weights}")
    if weights is None:
        return torchvision.models.resnet18(weights=None)
    if isinstance(weights, torchvision.models.ResNet18_Weights) or (
            isinstance(weights, str) and weights in torchvision.models.ResNet18_Weights.__members__):
        weights = torchvision.models.ResNet18_Weights.verify(weights)
        try:
            state = torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", check_hash=True,
                                                       weights_only=True)
        except OSError as exc:  # URLError, no network: say where the file goes
            raise RuntimeError(f"Could not get {weights.url} ({exc}); save it in "
                               f"{Path(torch.hub.get_dir()) / 'checkpoints'} or pass weights=None") from exc
    elif isinstance(weights, (str, os.PathLike)) and Path(weights).is_file():
        state = torch.load(weights, map_location="cpu", weights_only=True)
    else:
        raise ValueError(f"weights must be None, a ResNet18_Weights, one of its names "
                         f"{list(torchvision.models.ResNet18_Weights.__members__)} or the path of a state dict "
                         f"file, got {weights!r}")
    if not isinstance(state, Mapping) or "fc.weight" not in state:
        raise ValueError(f"{weights} does not hold a ResNet-18 state dict (no 'fc.weight')")
    model = torchvision.models.resnet18(weights=None, num_classes=state["fc.weight"].shape[0])
    model.load_state_dict(state)
    return model


def _new_classifier(model, class_names):
    """Replace ``model.fc`` by a freshly initialized nn.Linear(512, len(class_names)) (requires grad)."""
    model.fc = nn.Linear(model.fc.in_features, len(class_names))
    return model


def _evaluate_then_train(device, dataloaders, dataset_sizes, model, trainable, num_epochs, history):
    """The course recipe shared by finetune and freeze: cross-entropy, SGD(lr=0.001, momentum=0.9) over
    ``trainable``, StepLR(step_size=7, gamma=0.1); one val evaluation, then num_epochs of training."""
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(trainable, lr=0.001, momentum=0.9)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    print("Before training:")
    train_model(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler, num_epochs=0,
                history=history)
    return train_model(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler,
                       num_epochs=num_epochs, history=history)


def finetune(device, dataloaders, dataset_sizes, class_names, num_epochs=10, *, weights="DEFAULT",
             history=None):
    """Finetuning: pretrained (ImageNet by default) ResNet-18 with a new classifier, every layer trained.

    SGD(lr=0.001, momentum=0.9) over all parameters, StepLR(step_size=7, gamma=0.1), cross-entropy.
    The model is evaluated once before training (train_model with num_epochs=0), then trained.

    Inputs: device, dataloaders, dataset_sizes as in train_model; class_names: list of C names;
    num_epochs: training epochs; weights: see load_resnet18 ('DEFAULT' = ImageNet; the notebook passes
    what transfer_data.resolve_resnet18_weights chose); history: optional list filled by train_model.

    Returns the trained model (its best-val weights), on ``device``.
    """
    _check_class_names(class_names)
    model = load_resnet18(weights)
    model = _new_classifier(model, class_names).to(device)
    return _evaluate_then_train(device, dataloaders, dataset_sizes, model, model.parameters(), num_epochs,
                                history)


def freeze(device, dataloaders, dataset_sizes, class_names, num_epochs=10, *, weights="DEFAULT",
           history=None):
    """ConvNet as a fixed feature extractor: every pretrained parameter frozen, only the new fc trained.

    Same recipe as ``finetune`` (SGD lr=0.001 momentum=0.9, StepLR(7, 0.1), cross-entropy, one
    evaluation before training) but the pretrained parameters get requires_grad=False and the optimizer
    sees only the new ``fc`` parameters. Frozen BatchNorm layers also keep their running statistics
    (see train_model). Returns the trained model (its best-val weights), on ``device``.
    """
    _check_class_names(class_names)
    model = load_resnet18(weights)
    for param in model.parameters():
        param.requires_grad = False
    model = _new_classifier(model, class_names).to(device)
    return _evaluate_then_train(device, dataloaders, dataset_sizes, model, model.fc.parameters(), num_epochs,
                                history)


def visualize_model(device, dataloaders, model, class_names, num_images=6):
    """Predict the first ``num_images`` images the val loader yields.

    Returns (images, captions): images a CPU float32 tensor (num_images, 3, H, W) as the loader gave them
    (normalized; plots.denormalize undoes it), captions a list of '{true}\\npredicted: {pred}' strings. The model is
    run in eval mode without gradients and every module's train/eval flag is restored afterwards.
    Raises ValueError when num_images is not a positive int or the val set is smaller.
    """
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f"num_images must be a positive int, got {num_images!r}")
    _check_class_names(class_names)
    _check_phase_dicts(dataloaders, {"val": 1}, ("val",))
    device = torch.device(device)
    modes = _module_modes(model)
    model.eval()
    images, captions = [], []
    try:
        with torch.no_grad():
            for inputs, labels in dataloaders["val"]:
                preds = model(inputs.to(device)).argmax(dim=1).cpu()
                take = min(num_images - len(images), inputs.size(0))
                images.extend(inputs[:take].cpu())
                captions.extend(f"{class_names[int(t)]}\npredicted: {class_names[int(p)]}"
                                for t, p in zip(labels[:take], preds[:take]))
                if len(images) == num_images:
                    break
    finally:
        _restore_modes(modes)
    if len(images) < num_images:
        raise ValueError(f"num_images={num_images} but the val loader holds only {len(images)} images")
    return torch.stack(images), captions
