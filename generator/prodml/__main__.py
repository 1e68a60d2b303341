from prodml.cli import main

main(prog_name="prodml")
