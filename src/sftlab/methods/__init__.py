"""Methods: one module or package per method family, each its command config and ``run_*()``.

``sft`` (nll, dft, power, asft), ``irl`` (irft, spin, rft), ``nft``, ``grpo`` (direct RL),
``dart``, ``s2l``, ``distill``, ``landscape``, and ``eval`` (the ``sftlab eval`` command).
A method given no ``--model`` / ``--data`` takes the embedded lab's, through
:mod:`.lab_defaults` only.
"""
