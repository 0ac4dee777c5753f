from loadbay.cli import app

if __name__ == "__main__":  # not when multiprocessing imports this module in a worker
    app()
