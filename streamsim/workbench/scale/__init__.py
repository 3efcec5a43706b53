"""At scale: production-sized what-if runs on the virtual clock with the one trigger engine."""
