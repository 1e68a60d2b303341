from prodml.cli import main

main()
