from reynard.cli import main

main()
