@4000000065a07eb2075bcd15 send: new msg 0K4QZ3V8HA.1311890 from <carol@test.example> size 700 rcpts 1 message-id <m0@test.example>
@4000000065a07eb2075bcd15 send: starting delivery 1: msg 0K4QZ3V8HA.1311890 to remote <alice@a.example>
@4000000065a07eb3075bcd15 send: delivery 1: success: msg 0K4QZ3V8HA.1311890 to remote <alice@a.example> delay 1.2: mx.a.example[192.0.2.1] accepted message./Remote host said: 250 ok
@4000000065a07eb3075bcd15 send: end msg 0K4QZ3V8HA.1311890
@4000000065a0ff9a075bcd15 send: new msg 0K4QZ3V8HB.1311891 from <alice@a.example> size 1000 rcpts 2 message-id <m1@a.example>
@4000000065a0ff9a075bcd15 send: starting delivery 2: msg 0K4QZ3V8HB.1311891 to remote <bob@b.example>
@4000000065a0ff9a075bcd15 send: starting delivery 3: msg 0K4QZ3V8HB.1311891 to local <carol@test.example>
@4000000065a0ff9a075bcd15 send: status: local 1/10 remote 1/20
@4000000065a0ff9a075bcd15 send: delivery 3: success: msg 0K4QZ3V8HB.1311891 to local <carol@test.example> delay 0.2: did 0+0+1/
@4000000065a0ff9b075bcd15 send: delivery 2: success: msg 0K4QZ3V8HB.1311891 to remote <bob@b.example> delay 0.5: mx.b.example[192.0.2.2] accepted message./Remote host said: 250 ok
@4000000065a0ff9b075bcd15 send: end msg 0K4QZ3V8HB.1311891
@4000000065a101f2075bcd15 send: new msg 0K4QZ3V8HC.1311892 from <alice@a.example> size 2000 rcpts 1 message-id -
@4000000065a101f3075bcd15 send: delivery 4: deferral: msg 0K4QZ3V8HC.1311892 to remote <dave@c.example> delay 1.0 retry in 60s: mx.c.example[192.0.2.3] said: 451 4.7.1 greylisted, try later
@4000000065a1022f075bcd15 send: delivery 5: success: msg 0K4QZ3V8HC.1311892 to remote <dave@c.example> delay 61.3: mx.c.example[192.0.2.3] accepted message./Remote host said: 250 ok
@4000000065a1022f075bcd15 send: end msg 0K4QZ3V8HC.1311892
@4000000065a10daa075bcd15 send: new msg 0K4QZ3V8HD.1311893 from <alice@a.example> size 500 rcpts 1 message-id -
@4000000065a10daa075bcd15 send: delivery 6: success: msg 0K4QZ3V8HD.1311893 to local <carol@test.example> delay 0.1: did 0+0+1/
@4000000065a10daa075bcd15 send: end msg 0K4QZ3V8HD.1311893
