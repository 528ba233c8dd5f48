"""Runtimes: where workers run and how elements travel (see ``_contract.Runtime``)."""
