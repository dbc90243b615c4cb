# Present so that pytest puts the repository root on sys.path and `import intervals` works
# from any working directory and with any import mode.
