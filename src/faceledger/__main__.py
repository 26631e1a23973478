from faceledger.cli import main

main()
