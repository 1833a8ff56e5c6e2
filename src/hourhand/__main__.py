from hourhand.cli import main

main()
