"""``harkd export RUN_DIR``: deployable ONNX / TorchScript with the input pipeline inside."""

from __future__ import annotations

EXAMPLES = """\
examples:
  harkd export runs/utd_acc_cnn1d --out acc.onnx                 # format from the suffix; manifest acc.onnx.json
  harkd export runs/utd_acc_gaf_resnet18 --format torchscript --out gaf.pt --checkpoint last
  harkd export runs/utd_acc_cnn1d --out acc.onnx --window-samples 150   # a 3 s window at 50 Hz
  harkd export runs/utd_skel2acc_kd --publish published/skel2acc_student  # student-only run directory
  harkd export runs/utd_skel2acc_kd --publish published/s --out s.onnx    # publish, then export it
  harkd export runs/utd_acc_cnn1d_micro --out micro_int8.onnx --quantize int8   # static int8 (QDQ)

The exported graph takes a raw window (batch, channels, W) in the sensor's units (acc g,
gyro deg/s) at the recording rate (UTD-MHAD: 50 Hz), oldest sample first; it resamples the
window to the training length with the data layer's linear interpolation, normalises
with the training statistics, encodes GAF images when the model reads them, and returns
class probabilities. W defaults to the median training-clip length (written in the
manifest). A parity check against the PyTorch eager pipeline (max abs difference on
probabilities <= 1e-5) runs after every export; a failure is an error (exit 2).

--quantize int8 writes a static int8 ONNX model (QDQ, ONNX Runtime): the model's
convolutions and linear layers run in int8 (weights per channel, activations calibrated
on windows of the training split); resampling, normalisation, GAF and softmax stay
float. The int8 model is checked against the fp32 one on the validation windows: a top-1
agreement below --min-agreement or an accuracy drop above --max-drop points is an error
and nothing is written. The manifest records the quantization and the check.
"""


def register(subparsers) -> None:
    from harkd.cli.main import MAX_WINDOW_SAMPLES, HelpFormatter, float_in, int_at_least, positive_float

    parser = subparsers.add_parser(
        "export", help="export a run's model with its input pipeline (ONNX / TorchScript) + manifest",
        description="Export a trained (or distilled) run's model, with resampling, normalisation and GAF inside "
                    "the graph, to ONNX or TorchScript; write a JSON manifest next to it; check parity.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("run_dir", help="a directory written by harkd train or harkd distill")
    parser.add_argument("--format", help="onnx or torchscript (default: from the --out suffix: .onnx, .pt/.ts)")
    parser.add_argument("--out", help="the model file to write (manifest: OUT.json)")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"],
                        help="best (selected on validation) or last")
    parser.add_argument("--window-samples", type=int_at_least(2, MAX_WINDOW_SAMPLES), metavar="W",
                        help="raw samples per window, 2-100000 (default: median training clip)")
    parser.add_argument("--rate", type=positive_float, metavar="HZ",
                        help="sampling rate in Hz, > 0 (default: the dataset's; UTD-MHAD 50)")
    parser.add_argument("--quantize", choices=["int8"], help="static int8 quantization (ONNX only)")
    # the defaults are harkd.deploy.quantize's MIN_AGREEMENT and MAX_ACCURACY_DROP (not imported here:
    # that would load torch and onnx for every `harkd --help`; a test keeps the help text in step)
    parser.add_argument("--min-agreement", type=float_in(0, 1), metavar="F",
                        help="int8: least top-1 agreement with fp32 on the validation windows, 0-1 (default: 0.9)")
    parser.add_argument("--max-drop", type=float_in(0), metavar="POINTS",
                        help="int8: largest validation-accuracy drop against fp32, in points (default: 2)")
    parser.add_argument("--publish", metavar="OUT_DIR",
                        help="distillation runs: write a student-only run directory (teachers, adapters and "
                             "optimiser state stripped); with --out, export that directory")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harkd.errors import InputError
    from harkd.deploy.exporter import check_output, export_run
    from harkd.deploy.manifest import check_format, infer_format, manifest_path
    from harkd.deploy.publish import publish_student

    if args.format is not None:
        check_format(args.format)
    if args.out:  # every check on --out before anything is written
        fmt = args.format or infer_format(args.out)
        check_output(args.out, fmt)
    elif not args.publish:
        raise InputError("--out FILE is required (or --publish OUT_DIR for a distillation run)")
    run_dir, checkpoint = args.run_dir, args.checkpoint
    if args.publish:
        out_dir = publish_student(run_dir, args.publish, args.checkpoint)
        print(f"published the student of {run_dir} to {out_dir} (config.yaml, run.json, best.pt: student weights only)")
        if not args.out:
            return 0
        run_dir, checkpoint = out_dir, "best"
    manifest = export_run(run_dir, fmt, args.out, checkpoint=checkpoint, window_samples=args.window_samples,
                          rate=args.rate, quantize=args.quantize,
                          **{k: v for k, v in (("min_agreement", args.min_agreement),
                                               ("max_accuracy_drop", args.max_drop)) if v is not None})
    quant = manifest["quantization"]
    size = f"{manifest['size_bytes'] / 1024:.1f} KiB" + (
        f" int8, fp32 {quant['fp32_size_bytes'] / 1024:.1f} KiB" if quant else "")
    print(f"wrote {args.out} ({size}, sha256 {manifest['sha256'][:16]}...) and {manifest_path(args.out)}")
    print(f"input (batch, {len(manifest['channels'])}, {manifest['window_samples']}) = "
          f"{manifest['window_seconds']:.2f} s at {manifest['sampling_rate_hz']:g} Hz, channels "
          f"{', '.join(f'{c} [{u}]' for c, u in zip(manifest['channels'], manifest['units']))}")
    return 0
